package arbiter

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// EventKind says what happened to a unit's grant.
type EventKind int

const (
	// Granted answers a Claim: etcd holds our key; Event.Grant is valid.
	Granted EventKind = iota + 1
	// Denied answers a Claim: Reason says why; Holder (and Grant.Token,
	// the holder's token) when someone else owns the key.
	Denied
	// Revoked: a grant we held is gone; remove the VIPs now (they are
	// already gone from the kernel if the lease deadline passed). It is
	// sent at the latest at the local lease deadline.
	Revoked
	// Freed: the key of a unit we asked for has been deleted and may be
	// claimed now (after a clean release at once, else after the grace).
	Freed
	// Renewed: the lease deadline moved; refresh the VIPs with
	// Event.Grant.Lifetime (or Arbiter.Grant).
	Renewed
)

func (k EventKind) String() string {
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
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Cause says why a grant was revoked, for callers that count or branch on
// it (Reason is for people).
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

// Event is one answer or notification for a unit (instance or sync group).
type Event struct {
	Key    string // the unit's name, as passed to Claim
	Kind   EventKind
	Grant  Grant
	Holder string // Denied: who holds the key
	Reason string
	Cause  Cause // Revoked: why
	// Clean marks a Freed after a clean release: the holder removed its
	// VIPs before deleting the key, so no duplicate probe is needed.
	Clean bool
	// Target is the node a clean release was handed over to (vipctl
	// handover --to), empty for anyone.
	Target string
	// Order (Freed) lists the unit's candidates in the order they should
	// claim: Target first, then by priority (see candidates.go).
	Order []string
}

// Grant is a valid claim: the unit's key is ours under a lease this node
// may consider alive until ValidUntil. Lifetime is the kernel lifetime for
// VIPs installed at the time the Grant was taken (never 0 in a valid
// Grant: 0 would mean "permanent" to vip.Manager.Apply).
type Grant struct {
	Key        string
	Token      int64 // fencing token: the owner key's CreateRevision
	ValidUntil time.Time
	Lifetime   time.Duration
}

// Env returns the variables notify scripts get for this grant.
func (g Grant) Env(instance, node string) map[string]string {
	return map[string]string{
		"VIPD_TOKEN":    strconv.FormatInt(g.Token, 10),
		"VIPD_INSTANCE": instance,
		"VIPD_NODE":     node,
	}
}

// eventBuffer is the capacity of the Events channel.
const eventBuffer = 64

// eventQueue decouples the arbiter from its reader: push never blocks and
// never drops Granted, Denied, Revoked or Freed. When the reader is slow,
// a pending Renewed or Freed for the same unit is replaced by the newer
// one (only the latest deadline matters), so the backlog stays bounded by
// the number of units times the answers they were actually owed.
//
// The pump goroutine (started by Run) owns the out channel's send side.
type eventQueue struct {
	mu     sync.Mutex
	q      []Event // guarded by mu
	notify chan struct{}
	out    chan Event
}

func newEventQueue() *eventQueue {
	return &eventQueue{notify: make(chan struct{}, 1), out: make(chan Event, eventBuffer)}
}

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	replaced := false
	if ev.Kind == Renewed || ev.Kind == Freed {
		for i := range q.q {
			if q.q[i].Key == ev.Key && q.q[i].Kind == ev.Kind {
				q.q[i] = ev
				replaced = true
				break
			}
		}
	}
	if !replaced {
		q.q = append(q.q, ev)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pump moves queued events to out until ctx is done.
func (q *eventQueue) pump(ctx context.Context) {
	for {
		q.mu.Lock()
		if len(q.q) == 0 {
			q.mu.Unlock()
			select {
			case <-q.notify:
				continue
			case <-ctx.Done():
				return
			}
		}
		ev := q.q[0]
		q.q = q.q[1:]
		q.mu.Unlock()
		select {
		case q.out <- ev:
		case <-ctx.Done():
			return
		}
	}
}
