package arbiter

import (
	"math"
	"time"

	"github.com/vipd/vipd/vrrp/vip"
)

// Defaults for the local lease deadline (SAFETY.md has the arithmetic).
const (
	// DefaultDriftRate bounds how much faster our clock may run than the
	// etcd leader's: 1e-3 is twice what NTP ever slews (500 ppm).
	DefaultDriftRate = 1e-3
	// DefaultMargin is kept between our deadline and the earliest moment
	// the server can expire the lease: stepping down (VIP removal, the
	// priority-0 advert) must fit in it.
	DefaultMargin = 500 * time.Millisecond
)

// Deadline is the local view of one etcd lease: the lease is alive, as far
// as this node may assume, until D = s + TTL·(1−ρ) − m, where s is the
// local time taken just BEFORE sending the last keepalive (or grant) that
// the server acknowledged with TTL > 0.
//
// Why this is safe: the server renews after it receives the request, so
// after s; a leader change only extends expiry; so the server cannot expire
// the lease before s + TTL on its clock. If our clock runs at most ρ faster,
// s + TTL·(1−ρ) on our clock is still before that, and m is left for the
// step-down itself.
//
// Once now ≥ D the lease is dead for good: a later acknowledgement (even of
// a keepalive sent before D) does not revive it, because we have already
// told the engine that the grant is gone and its VIPs may be gone from the
// kernel. A dead lease must be replaced by a newly granted one, and every
// claim made under it is void.
//
// Deadline is pure: every method takes the current time. It is not safe for
// concurrent use; the Arbiter guards it with its mutex.
type Deadline struct {
	rho    float64
	margin time.Duration
	d      time.Time // zero until Start
	dead   bool
}

// NewDeadline returns the deadline of a lease not yet granted (dead).
// Zero or negative rho and margin mean the defaults.
func NewDeadline(rho float64, margin time.Duration) *Deadline {
	if rho <= 0 {
		rho = DefaultDriftRate
	}
	if margin <= 0 {
		margin = DefaultMargin
	}
	return &Deadline{rho: rho, margin: margin, dead: true}
}

// window is how long after a send time s an acknowledged TTL keeps the
// lease locally valid.
func (d *Deadline) window(ttl time.Duration) time.Duration {
	// Rounded to the nanosecond so the defaults give round numbers.
	return ttl - time.Duration(math.Round(float64(ttl)*d.rho)) - d.margin
}

// Start begins a new lease granted with ttl by a request sent at sent.
// It reports whether the lease is usable at all at now.
func (d *Deadline) Start(sent, now time.Time, ttl time.Duration) bool {
	d.dead = ttl <= 0
	d.d = sent.Add(d.window(ttl))
	if !now.Before(d.d) {
		d.dead = true
	}
	return !d.dead
}

// Renew applies a keepalive sent at sent and answered at now with ttl
// (ttl ≤ 0 is etcd's "lease not found"). It reports whether the deadline
// moved and whether the lease is still alive; a lease found dead stays dead.
func (d *Deadline) Renew(sent, now time.Time, ttl time.Duration) (moved, alive bool) {
	if d.Expired(now) {
		d.dead = true
		return false, false
	}
	if ttl <= 0 {
		d.dead = true
		return false, false
	}
	if nd := sent.Add(d.window(ttl)); nd.After(d.d) {
		d.d = nd
		return true, true
	}
	return false, true
}

// Lose kills the lease now (not found, revoked, replaced).
func (d *Deadline) Lose() { d.dead = true }

// Expired reports whether the lease is dead at now: lost, or now ≥ D.
func (d *Deadline) Expired(now time.Time) bool {
	return d.dead || !now.Before(d.d)
}

// Until returns D, the first instant at which the lease is no longer valid.
func (d *Deadline) Until() time.Time { return d.d }

// Remaining is D − now, or 0 when the lease is dead.
func (d *Deadline) Remaining(now time.Time) time.Duration {
	if d.Expired(now) {
		return 0
	}
	return d.d.Sub(now)
}

// VIPLifetime is the kernel lifetime a VIP installed or refreshed now may
// carry so that the kernel removes it before D (vip.FenceLifetime: whole
// seconds, rounded down, allowing for the kernel's removal delay). ok is
// false when the lease is dead or not even one second fits: then the VIPs
// must not be installed or refreshed.
func (d *Deadline) VIPLifetime(now time.Time) (time.Duration, bool) {
	if d.Expired(now) {
		return 0, false
	}
	return vip.FenceLifetime(d.d.Sub(now))
}

// FenceUntil is the last instant at which VIPLifetime is still ok: from
// then on a holder can no longer refresh its VIPs under this deadline.
func (d *Deadline) FenceUntil() time.Time {
	return d.d.Add(-(time.Second + vip.ExpiryLateness))
}
