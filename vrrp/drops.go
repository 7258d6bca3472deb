package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// DropReason says why a received advert was not used. The values are
// stable: they are log fields and metric labels.
type DropReason string

// Reasons returned by ParseAdvert (structure) and Validate (RFC 5798 §7.1,
// RFC 3768 §7.1, keepalived's vrrp_check_packet).
const (
	DropLength   DropReason = "length"   // shorter or longer than the header and address count say
	DropVersion  DropReason = "version"  // not 2 or 3 (parse), or not our version (validate)
	DropType     DropReason = "type"     // not an ADVERTISEMENT
	DropFamily   DropReason = "family"   // v2 over IPv6, mixed families, or not our family
	DropChecksum DropReason = "checksum" // bad checksum
	// DropVRID: the advert is for another virtual router. On a shared
	// socket this is normal traffic; callers may ignore it silently.
	DropVRID     DropReason = "vrid"
	DropTTL      DropReason = "ttl"      // multicast advert with TTL/hop limit != 255
	DropAuth     DropReason = "auth"     // v2 auth type or password mismatch
	DropInterval DropReason = "interval" // v2 advert interval differs from ours
	// DropDestination: a multicast advert for a unicast instance or a
	// unicast one for a multicast instance (keepalived drops both).
	DropDestination DropReason = "destination"
	DropNotPeer     DropReason = "not_peer"   // unicast source not among the unicast peers
	DropAddrCount   DropReason = "addr_count" // address count differs from our VIPs (strict only)
	DropAddrList    DropReason = "addr_list"  // one of our VIPs is missing from the advert (strict only)
	// DropOwner: a strict-mode address owner (priority 255) ignores all
	// adverts (keepalived's owner_ignore_adverts).
	DropOwner DropReason = "owner"
)

// DropReasons lists every reason, for callers that pre-create metric series.
func DropReasons() []DropReason {
	return []DropReason{
		DropLength, DropVersion, DropType, DropFamily, DropChecksum, DropVRID,
		DropTTL, DropAuth, DropInterval, DropDestination, DropNotPeer,
		DropAddrCount, DropAddrList, DropOwner,
	}
}

// DropError is why an advert was dropped. Detail is for humans.
type DropError struct {
	Reason DropReason
	Detail string
}

func (e *DropError) Error() string {
	return fmt.Sprintf("vrrp: advert dropped (%s): %s", e.Reason, e.Detail)
}

// Is lets callers branch with errors.Is(err, &DropError{Reason: DropVRID}):
// errors with the same Reason match whatever their Detail.
func (e *DropError) Is(target error) bool {
	t, ok := target.(*DropError)
	return ok && t.Reason == e.Reason
}

func dropf(r DropReason, format string, args ...any) *DropError {
	return &DropError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// DropCounter counts dropped adverts per reason and logs them, at most
// once per reason per interval so that a flood of bad packets (a
// misconfigured neighbour sends one per second for ever) costs one line
// per interval, which carries how many were suppressed since the last one.
// There is no flush timer: suppressed events of a burst that stops show in
// Counts, and in the next line of that reason if one ever comes.
// Accepted adverts with a discrepancy (see Mismatch) go through Warn and
// are counted apart. It is safe for concurrent use.
type DropCounter struct {
	log   *slog.Logger
	every time.Duration
	clock clock.Clock

	mu       sync.Mutex // guards the maps below
	drops    map[DropReason]uint64
	warnings map[DropReason]uint64
	limit    map[limitKey]*limitState
}

type limitKey struct {
	warn   bool
	reason DropReason
}

type limitState struct {
	last       time.Time // when this key was last logged
	suppressed uint64    // events since then that were not logged
}

// DropOption configures a DropCounter.
type DropOption func(*DropCounter)

// WithDropClock replaces the real clock of the log rate limit (tests).
func WithDropClock(clk clock.Clock) DropOption {
	return func(c *DropCounter) { c.clock = clk }
}

// NewDropCounter returns a counter that logs to log (nil: no logging) at
// most once per every per reason (every <= 0: every drop is logged).
func NewDropCounter(log *slog.Logger, every time.Duration, opts ...DropOption) *DropCounter {
	c := &DropCounter{
		log:      log,
		every:    every,
		clock:    clock.Real(),
		drops:    make(map[DropReason]uint64),
		warnings: make(map[DropReason]uint64),
		limit:    make(map[limitKey]*limitState),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Drop records a dropped advert.
func (c *DropCounter) Drop(err *DropError, rx RxMeta) {
	c.record(false, err, rx)
}

// Warn records an advert that was accepted despite a discrepancy, the
// result of Mismatch: keepalived logs these (rate limited) but uses them.
func (c *DropCounter) Warn(err *DropError, rx RxMeta) {
	c.record(true, err, rx)
}

// Counts returns a snapshot of the drops per reason.
func (c *DropCounter) Counts() map[DropReason]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.drops)
}

// Warnings returns a snapshot of the accepted-with-discrepancy counts.
func (c *DropCounter) Warnings() map[DropReason]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.warnings)
}

func (c *DropCounter) record(warn bool, err *DropError, rx RxMeta) {
	if err == nil {
		return
	}
	now := c.clock.Now()
	key := limitKey{warn, err.Reason}

	c.mu.Lock()
	if warn {
		c.warnings[err.Reason]++
	} else {
		c.drops[err.Reason]++
	}
	st := c.limit[key]
	if st == nil {
		st = new(limitState)
		c.limit[key] = st
	}
	// The first event of a key is always logged; a clock going backwards
	// (a test clock, a wall-clock step) must not silence it for ever.
	log := st.last.IsZero() || c.every <= 0 || now.Sub(st.last) >= c.every || now.Before(st.last)
	suppressed := st.suppressed
	if log {
		st.last, st.suppressed = now, 0
	} else {
		st.suppressed++
	}
	c.mu.Unlock()

	// Log outside the lock: a slow handler must not serialise receivers.
	if !log || c.log == nil {
		return
	}
	msg, level := "vrrp advert dropped", slog.LevelInfo
	if warn {
		msg = "vrrp advert accepted with a mismatch"
	} else if err.Reason == DropVRID {
		level = slog.LevelDebug // other routers' traffic on a shared LAN
	}
	c.log.LogAttrs(context.Background(), level, msg,
		slog.String("reason", string(err.Reason)),
		slog.String("detail", err.Detail),
		slog.String("src", rx.Src.String()),
		slog.String("dst", rx.Dst.String()),
		slog.Int("ttl", rx.TTL),
		slog.Int("ifindex", rx.IfIndex),
		slog.Uint64("suppressed", suppressed),
	)
}
