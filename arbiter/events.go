package arbiter

import (
	"context"
	"sync"

	"github.com/vipd/vipd/arbiter/mastership"
)

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
	q      []mastership.Event // guarded by mu
	notify chan struct{}
	out    chan mastership.Event
}

func newEventQueue() *eventQueue {
	return &eventQueue{notify: make(chan struct{}, 1), out: make(chan mastership.Event, eventBuffer)}
}

func (q *eventQueue) push(ev mastership.Event) {
	q.mu.Lock()
	replaced := false
	if ev.Kind == mastership.Renewed || ev.Kind == mastership.Freed {
		for i := range q.q {
			if q.q[i].Unit == ev.Unit && q.q[i].Kind == ev.Kind {
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
