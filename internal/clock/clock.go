package clock

import "time"

// Clock tells the time and runs timers.
//
// Deadlines are computed from Now, so a Clock must return times that carry
// Go's monotonic reading (time.Now does): a step of the wall clock must not
// move a lease deadline or a probe interval.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed
	// (time.After). A timer whose channel is never read is not leaked.
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f in its own goroutine once d has passed; stop
	// cancels the call if it has not started and reports whether it did
	// (time.AfterFunc and Timer.Stop).
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Real returns the process's clock.
func Real() Clock { return real{} }

type real struct{}

var _ Clock = real{}

func (real) Now() time.Time                         { return time.Now() }
func (real) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (real) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
