// Package mastership is the contract between VRRP, which decides who wants
// to be master, and the arbiter, which decides whether it may. It is a leaf:
// package vrrp consumes the Arbiter interface, package arbiter implements
// it, and neither knows the other.
//
// The thing an ownership key protects is a unit: one vrrp_instance, or a
// whole vrrp_sync_group ("group:<name>"), which moves as one.
package mastership

import (
	"strconv"
	"time"
)

// Arbiter is the mastership gate. It never blocks: answers to Claim
// arrive on Events.
type Arbiter interface {
	// Claim asks for the unit's ownership key with priority prio; Granted
	// or Denied follows. Call it only once the unit's VIPs are known to be
	// absent locally.
	Claim(unit string, prio uint8)
	// Release gives the unit up; call it only once its VIPs are removed.
	// to names the node an operator handover is meant for ("" for anyone).
	Release(unit, to string)
	// Grant reports whether the unit holds a valid grant at now, and the
	// VIP lifetime that grant allows (never 0 when ok).
	Grant(unit string, now time.Time) (Grant, bool)
	// Stand publishes this node as a candidate for the unit with priority
	// prio (0 withdraws), so that a freed key goes to the best backup.
	Stand(unit string, prio uint8)
	// Prepare removes a previous incarnation's keys — call it once the VIPs
	// it may have left are removed from the kernel — and watches the units
	// so that a holder's release is reported as Freed.
	Prepare(units []string)
	// Events delivers the answers and changes, in order. One goroutine
	// (the engine's) reads it.
	Events() <-chan Event
}

// Grant is a valid claim: the unit's key is ours under a lease this node
// may consider alive until ValidUntil. Lifetime is the kernel lifetime for
// VIPs installed when the Grant was taken (never 0 in a valid Grant: 0
// would mean "permanent" to the kernel).
type Grant struct {
	Token      int64 // fencing token: the ownership key's creation revision
	ValidUntil time.Time
	Lifetime   time.Duration
}

// Kind says what happened to a unit's grant.
type Kind int

const (
	// Granted answers a Claim: etcd holds our key; Event.Grant is valid.
	Granted Kind = iota + 1
	// Denied answers a Claim: Reason says why; Holder (and Grant.Token,
	// the holder's token) when someone else owns the key.
	Denied
	// Revoked: a grant we held is gone; remove the VIPs now (they are
	// already gone from the kernel if the lease deadline passed). It is
	// sent at the latest at the local lease deadline. Cause says why.
	Revoked
	// Freed: the key of a unit we watch has been deleted and may be
	// claimed now (after a clean release at once, else after the grace).
	Freed
	// Renewed: the lease deadline moved; refresh the VIPs with
	// Event.Grant.Lifetime (or Arbiter.Grant).
	Renewed
)

func (k Kind) String() string {
	switch k {
	case Granted:
		return "granted"
	case Denied:
		return "denied"
	case Revoked:
		return "revoked"
	case Freed:
		return "freed"
	case Renewed:
		return "renewed"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Cause says why a grant was revoked, for callers that count or branch on
// it (Event.Reason is for people).
type Cause int

const (
	// CauseLease: our lease died or its local deadline passed.
	CauseLease Cause = iota + 1
	// CauseKeyLost: the ownership key was deleted or changed hands.
	CauseKeyLost
	// CauseConflict: gossip showed another member holding the unit with a
	// newer token.
	CauseConflict
)

func (c Cause) String() string {
	switch c {
	case CauseLease:
		return "lease"
	case CauseKeyLost:
		return "key lost"
	case CauseConflict:
		return "conflict"
	}
	return "Cause(" + strconv.Itoa(int(c)) + ")"
}

// Event is one answer or notification for a unit.
type Event struct {
	Unit   string
	Kind   Kind
	Grant  Grant
	Holder string // Denied: who holds the key
	Reason string // for people: logs and status
	Cause  Cause  // Revoked: why
	// Clean marks a Freed after a clean release: the holder removed its
	// VIPs before deleting the key, so no duplicate probe is needed.
	Clean bool
	// Target is the node a clean release was handed over to (vipctl
	// handover --to), empty for anyone.
	Target string
	// Order (Freed) lists the unit's candidates in the order they should
	// claim: Target first, then by priority, then by name.
	Order []string
}
