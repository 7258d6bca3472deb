package vrrp

import (
	"time"

	"github.com/vipd/vipd/vrrp/vip"
)

// The kernel fence: every VIP is installed with a netlink address lifetime
// that the running engine keeps refreshing. A vipd killed with -9 or frozen
// with SIGSTOP stops refreshing, and the kernel deletes the VIP on its own
// when the lifetime runs out — before a backup's Master_Down_Interval ends
// wherever the kernel's one-second lifetime granularity allows it
// (docs/kernel-fence.md has the arithmetic and the measured expiry delays).
//
// How precisely the kernel deletes an expired address is recorded in
// package vip. This fence is best effort and uses its typical lateness
// (vip.TypicalExpiryLateness); the arbiter's fence is a guarantee and uses
// the worst case (vip.ExpiryLateness). The comment on those constants says
// why.

const (
	// minFenceLifetime is the shortest lifetime for advert intervals of a
	// second or more: a one-second lifetime leaves a refresh little room for
	// a scheduling hiccup (and the kernel may expire it vip.ExpiryEarliness
	// early).
	minFenceLifetime = 2 * time.Second
	// fenceSlack is what a lifetime leaves of the 2 × advInt before a
	// backup's earliest claim: the kernel's typical lateness and 0.1 s to
	// spare. Lifetimes are whole seconds, so a change here moves them only
	// across a second boundary (TestFenceLifetime pins them).
	fenceSlack = vip.TypicalExpiryLateness + 100*time.Millisecond
	// fenceMargin is how close to expiry we still trust that the kernel has
	// not yet removed the address (it may remove it vip.ExpiryEarliness
	// early; the rest is room for a late check). Past it a refresh would
	// re-add a VIP the kernel already dropped (after a freeze), possibly
	// while a backup holds it, so the engine steps down instead.
	fenceMargin = 250 * time.Millisecond
)

// fenceLifetime is the VIP lifetime for an instance advertising every
// advInt, in whole seconds: the longest that, with fenceSlack, fits in
// 2 × advInt. The earliest a backup can claim after the master dies is
// 2 × advInt + its skew after the death (its last advert may have been sent
// up to one interval before); the kernel typically deletes an address at
// most vip.TypicalExpiryLateness after its lifetime ends. With the default
// advert_int 1 the lifetime is 2 s: gone by about 2.3 s after the death (as
// measured), so every backup below priority ~190 claims after the VIP is
// gone. Below one second the kernel's granularity cannot beat the backups'
// timer; the shortest lifetime (1 s) keeps the overlap as small as it can be.
func fenceLifetime(advInt time.Duration) time.Duration {
	if advInt < time.Second {
		return time.Second
	}
	return max(minFenceLifetime, (2*advInt - fenceSlack).Truncate(time.Second))
}

// fenceRefreshEvery is how often a holder refreshes its VIPs' lifetime:
// four times per lifetime, so a stall of most of a lifetime is survived.
func fenceRefreshEvery(lifetime time.Duration) time.Duration {
	return lifetime / 4
}
