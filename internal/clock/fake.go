package clock

import (
	"context"
	"sync"
	"time"
)

// Fake is a Clock for tests: its time moves only when the test calls
// Advance, AdvanceTo or Set, which fire the timers that fall due.
//
// Concurrency rules:
//
//   - Now, After, AfterFunc, the stop functions, Waiters, Next and
//     BlockUntil may be called from any goroutine.
//   - Advance, AdvanceTo and Set are called by the test, from one goroutine
//     at a time, and never from a timer callback.
//   - Advance fires the due timers one at a time in the order they fall due
//     (ties in the order they were set), and Now reads each one's due time
//     while it fires. An After channel receives that time (the channel has
//     room for it, so Advance never blocks on it; the receiver runs later, and
//     may already read a later Now). An AfterFunc callback runs in its own
//     goroutine, as with time.AfterFunc, but Advance waits for it to return
//     before it goes on: so when Advance returns, every callback that fell
//     due has run, and a callback must not wait for the goroutine that
//     called Advance. Timers that callbacks set, if due by the target, fire
//     in the same Advance.
//   - A timer set with d <= 0 is due at once: After returns a channel that
//     already holds Now, and AfterFunc starts f in its own goroutine without
//     waiting for it, as time.AfterFunc(0, f) does. Neither counts as pending.
type Fake struct {
	mu      sync.Mutex // guards the fields below
	now     time.Time
	seq     uint64        // timers set so far; orders timers due together
	pending []*fakeTimer  // not yet fired or stopped, in no order
	changed chan struct{} // closed and replaced whenever a timer is added
}

type fakeTimer struct {
	at  time.Time
	seq uint64
	ch  chan time.Time // After
	f   func()         // AfterFunc
}

var _ Clock = (*Fake)(nil)

// NewFake returns a Fake that reads start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the time when Advance reaches
// Now()+d.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.addLocked(&fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// AfterFunc calls f in its own goroutine when Advance reaches Now()+d.
func (c *Fake) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	if d <= 0 {
		go f()
		return func() bool { return false }
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.addLocked(t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.removeLocked(t)
	}
}

func (c *Fake) addLocked(t *fakeTimer) {
	c.seq++
	t.seq = c.seq
	c.pending = append(c.pending, t)
	close(c.changed)
	c.changed = make(chan struct{})
}

// removeLocked drops t from the pending timers and reports whether it was
// there.
func (c *Fake) removeLocked(t *fakeTimer) bool {
	for i, p := range c.pending {
		if p == t {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, firing every timer that falls due.
func (c *Fake) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// AdvanceTo moves the clock forward to target (never back), firing every
// timer due by then.
func (c *Fake) AdvanceTo(target time.Time) {
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.pending {
			if !t.at.After(target) && (next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq)) {
				next = t
			}
		}
		if next == nil {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		c.removeLocked(next)
		if next.at.After(c.now) {
			c.now = next.at
		}
		now := c.now
		c.mu.Unlock()
		if next.ch != nil {
			next.ch <- now
			continue
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			next.f()
		}()
		<-done
	}
}

// Set moves the clock to t like a step of the wall clock: forward it is
// AdvanceTo(t); back, only Now changes and pending timers keep their due
// times. Real clocks carry a monotonic reading that never steps back; Set
// is for testing code that must survive a clock that does anyway.
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	back := t.Before(c.now)
	if back {
		c.now = t
	}
	c.mu.Unlock()
	if !back {
		c.AdvanceTo(t)
	}
}

// Waiters returns the number of pending timers (After and AfterFunc).
func (c *Fake) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Next returns how far the earliest pending timer is from Now, and false
// when none is pending: what the code under test asked to wait.
func (c *Fake) Next() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return 0, false
	}
	at := c.pending[0].at
	for _, t := range c.pending[1:] {
		if t.at.Before(at) {
			at = t.at
		}
	}
	return at.Sub(c.now), true
}

// BlockUntil waits until at least n timers are pending, which tells a test
// that the code under test has finished its step and is waiting on the
// clock. It returns ctx's error if ctx ends first.
func (c *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.pending) >= n {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
