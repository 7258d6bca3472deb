package arbiter

import "time"

// Clock is the arbiter's source of time. Deadlines are computed from Now,
// so a real Clock must return times carrying Go's monotonic reading
// (time.Now does): wall-clock steps must not move a lease deadline.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels the call if it has not started (time.AfterFunc semantics).
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock returns the process's monotonic clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
