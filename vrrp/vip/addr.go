package vip

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// Addr is one virtual address as keepalived's virtual_ipaddress block
// describes it: "<prefix> [brd <addr>] dev <dev> [scope <scope>]
// [label <label>] [noprefixroute]".
type Addr struct {
	Prefix netip.Prefix // address and prefix length, e.g. 192.0.2.10/24
	Dev    string       // interface name
	Label  string       // IPv4 only; iproute2 and keepalived expect it to start with Dev
	// Scope is "global" (the default when empty), "site", "link", "host",
	// "nowhere" or a number 0-255, as in iproute2's rt_scopes.
	Scope         string
	Brd           netip.Addr // IPv4 broadcast; zero means computed from the prefix
	NoPrefixRoute bool       // IFA_F_NOPREFIXROUTE: no automatic prefix route
}

func (a Addr) String() string {
	return fmt.Sprintf("%s dev %s", a.Prefix, a.Dev)
}

// Scope values from the kernel's rtnetlink.h (RT_SCOPE_*).
var scopeNames = map[string]uint8{
	"":         0,
	"global":   0,
	"universe": 0,
	"site":     200,
	"link":     253,
	"host":     254,
	"nowhere":  255,
}

// ParseScope converts an iproute2 scope name or number to its value.
func ParseScope(s string) (uint8, error) {
	if v, ok := scopeNames[s]; ok {
		return v, nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("vip: invalid scope %q: want global, site, link, host, nowhere or 0-255", s)
	}
	return uint8(n), nil
}

// infinityLifetime is the kernel's INFINITY_LIFE_TIME: "forever".
const infinityLifetime = math.MaxUint32

// LifetimeSeconds converts d to the whole seconds the kernel stores in
// valid_lft/preferred_lft, rounding UP (a partial second becomes a full
// one) so that an address refreshed every d is never dropped early by
// truncation. d ≤ 0 gives 0, which Apply treats as permanent. The result
// is capped below the kernel's "forever" value.
//
// Rounding up is right for liveness (refresh loops). For a safety fence
// against a deadline use FenceLifetime, which rounds down and allows for
// the kernel's removal delay.
func LifetimeSeconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	if s >= infinityLifetime {
		return infinityLifetime - 1
	}
	return uint32(s)
}

// How precisely the kernel deletes an address whose lifetime has run out
// (docs/kernel-fence.md has the measurements and the kernel source they
// follow). This is the one place vipd records it; the two fences derive
// from it.
//
// The two fences use different figures on purpose:
//
//   - Plain VRRP (vrrp's fenceLifetime) sizes the lifetime with
//     TypicalExpiryLateness. Its fence is best effort, an improvement over
//     keepalived, which has none: a killed keepalived master keeps its VIPs
//     forever. Sizing it for the worst case would leave the default advert_int
//     1 less than the kernel's one-second granularity (L + 1.5 s ≤ 2 s +
//     Skew), so plain VRRP accepts that a rare late removal overlaps a backup's
//     claim for a fraction of a second.
//   - The arbiter (FenceLifetime, arbiter/deadline.go) sizes it with
//     ExpiryLateness, the worst case: it promises that the VIP is gone from
//     the kernel before the etcd lease can be granted to another node, and a
//     guarantee cannot rest on the typical case.
const (
	// ExpiryLateness bounds how long after its lifetime ends the kernel may
	// still hold an address: the lifetime worker runs at most once a second
	// after any address change in the namespace (ADDRCONF_TIMER_FUZZ_MAX),
	// may round its wakeup up by 250 ms (ADDRCONF_TIMER_FUZZ), and runs on a
	// workqueue. Measured worst case on an idle box: 0.94 s, an unrelated
	// address added in the namespace just before expiry (docs/kernel-fence.md,
	// "Measurements"); the remainder is margin for a loaded machine.
	ExpiryLateness = 1500 * time.Millisecond

	// TypicalExpiryLateness is how late the kernel deletes an address when
	// nothing else changes addresses in its namespace: only the 250 ms
	// wakeup rounding and workqueue latency. Measured (docs/kernel-fence.md,
	// "Measurements"): at most 0.27 s for lifetimes of 1 and 2 s, including
	// after a series of refreshes, and 0.40 s for 3 s.
	TypicalExpiryLateness = 400 * time.Millisecond

	// ExpiryEarliness is how early the kernel may delete an address: the
	// lifetime worker treats an address within 20 ms of its lifetime as
	// expired (ADDRCONF_TIMER_FUZZ_MINUS).
	ExpiryEarliness = 20 * time.Millisecond
)

// FenceLifetime returns the longest whole-second lifetime L such that an
// address refreshed now is gone from the kernel before now+budget even in
// the worst case (L + ExpiryLateness ≤ budget). ok is false when not even
// one second fits: the caller must then not install (or must remove) the
// address, because a lifetime of 0 would mean "permanent" to Apply.
func FenceLifetime(budget time.Duration) (lifetime time.Duration, ok bool) {
	s := (budget - ExpiryLateness) / time.Second
	if s < 1 {
		return 0, false
	}
	if s >= infinityLifetime {
		s = infinityLifetime - 1
	}
	return s * time.Second, true
}
