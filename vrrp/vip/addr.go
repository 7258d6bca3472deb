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

// ExpiryLateness bounds how long after its lifetime ends the kernel may
// still hold an address: the lifetime worker runs at most once a second
// after any address change in the namespace (ADDRCONF_TIMER_FUZZ_MAX), may
// round its wakeup up by 250 ms (ADDRCONF_TIMER_FUZZ), and runs on a
// workqueue. Measured worst case on an idle box: 0.93 s (docs/kernel-fence.md); the
// remainder is margin for a loaded machine.
const ExpiryLateness = 1500 * time.Millisecond

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
