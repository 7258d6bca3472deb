package vrrp

import "time"

// The kernel fence: every VIP is installed with a netlink address lifetime
// that the running engine keeps refreshing. A vipd killed with -9 or frozen
// with SIGSTOP stops refreshing, and the kernel deletes the VIP on its own
// when the lifetime runs out — before a backup's Master_Down_Interval ends
// wherever the kernel's one-second lifetime granularity allows it
// (docs/kernel-fence.md has the arithmetic and the measured expiry delays).

const (
	// minFenceLifetime is the shortest lifetime for advert intervals of a
	// second or more: a one-second lifetime leaves a refresh little room for
	// a scheduling hiccup (and the kernel may expire it 20 ms early).
	minFenceLifetime = 2 * time.Second
	// fenceMargin is how close to expiry we still trust that the kernel has
	// not yet removed the address. Past it a refresh would re-add a VIP the
	// kernel already dropped (after a freeze), possibly while a backup holds
	// it, so the engine steps down instead.
	fenceMargin = 250 * time.Millisecond
)

// fenceLifetime is the VIP lifetime for an instance advertising every
// advInt, in whole seconds. The earliest a backup can claim after the
// master dies is 2 × advInt + its skew after the death (its last advert may
// have been sent up to one interval before); the kernel deletes an address
// at most ~0.3 s after its lifetime ends when nothing else disturbs it
// (docs/kernel-fence.md). With the default advert_int 1 the lifetime is
// 2 s: every backup below priority ~190 claims after the VIP is gone.
// Below one second the kernel's granularity cannot beat the backups' timer;
// the shortest lifetime (1 s) keeps the overlap as small as it can be.
func fenceLifetime(advInt time.Duration) time.Duration {
	if advInt < time.Second {
		return time.Second
	}
	return max(minFenceLifetime, (2*advInt - 500*time.Millisecond).Truncate(time.Second))
}

// fenceRefreshEvery is how often a holder refreshes its VIPs' lifetime:
// four times per lifetime, so a stall of most of a lifetime is survived.
func fenceRefreshEvery(lifetime time.Duration) time.Duration {
	return lifetime / 4
}
