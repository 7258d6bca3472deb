package check

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
)

// Status is a checker's state, sent after every probe and once at start.
type Status struct {
	Key string
	Up  bool
	// Detail is the last probe's reason, or "initial" before the first.
	Detail string
	// Weight is the misc_dynamic weight (see Result.Weight); -1 means the
	// configured weight. A failure leaves it as it was.
	Weight int
	// Offset is the FILE_CHECK weight offset (see Result.Offset) of the
	// last success.
	Offset    int
	LastCheck time.Time // zero before the first probe
	Failures  int       // consecutive failed probes
}

// Timing is the schedule of one checker, resolved by the config parser.
type Timing struct {
	DelayLoop        time.Duration // between checks; <= 0 means 60 s
	DelayBeforeRetry time.Duration // between retries; <= 0 means 1 s
	Retry            int           // extra tries before DOWN
	Warmup           time.Duration // first check after rand 0..Warmup; 0 = at once
	Alpha            bool          // start DOWN until the first success
}

// TimingOf returns the timing of ck; alpha is the virtual server's.
func TimingOf(ck *config.Checker, alpha bool) Timing {
	return Timing{
		DelayLoop: ck.DelayLoop, DelayBeforeRetry: ck.DelayBeforeRetry,
		Retry: ck.Retry, Warmup: ck.Warmup, Alpha: alpha,
	}
}

// Options are a Checker's injected dependencies; zero values mean real ones.
type Options struct {
	Clock clock.Clock
	// Rand returns a uniformly random duration in [0, max]; it picks the
	// warmup delay.
	Rand func(max time.Duration) time.Duration
	// Resume starts the checker in this state instead of the initial one
	// (UP, or DOWN with alpha), so a reload does not flap real servers.
	Resume *Status
	// Paused, when set and true, skips the probes (ha_suspend: no checks
	// while this node does not hold the virtual server's address); the
	// state stays as it was.
	Paused func() bool
}

// Checker runs a Prober on keepalived's schedule and tracks its UP/DOWN
// state. Run must be called at most once; the state is owned by the Run
// goroutine.
type Checker struct {
	key    string
	probe  Prober
	clock  clock.Clock
	rand   func(time.Duration) time.Duration
	paused func() bool
	m      machine
}

// NewChecker returns a checker called key (reported in Status.Key).
func NewChecker(key string, p Prober, t Timing, opt Options) *Checker {
	if t.DelayLoop <= 0 {
		t.DelayLoop = 60 * time.Second
	}
	if t.DelayBeforeRetry <= 0 {
		t.DelayBeforeRetry = time.Second
	}
	if t.Retry < 0 {
		t.Retry = 0
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real()
	}
	if opt.Rand == nil {
		opt.Rand = func(max time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(max) + 1)) }
	}
	m := newMachine(t)
	if r := opt.Resume; r != nil {
		m.up, m.hasRun, m.weight, m.detail, m.last, m.failures = r.Up, !r.LastCheck.IsZero(), r.Weight, r.Detail, r.LastCheck, r.Failures
		m.offset = r.Offset
	}
	return &Checker{key: key, probe: p, clock: opt.Clock, rand: opt.Rand, paused: opt.Paused, m: m}
}

// Run sends the initial status, waits the warmup delay, then probes until
// ctx ends, sending a Status after every probe. It returns nil on cancel.
// Run blocks while updates is not read.
func (c *Checker) Run(ctx context.Context, updates chan<- Status) error {
	if !send(ctx, updates, c.m.status(c.key)) {
		return nil
	}
	var wait time.Duration
	if c.m.t.Warmup > 0 {
		// check_api.c: spread the first checks over 0..warmup so that
		// thousands of checkers do not fire together at start.
		wait = c.rand(c.m.t.Warmup)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.clock.After(wait):
		}
		if c.paused != nil && c.paused() {
			wait = c.m.t.DelayLoop
			continue
		}
		r := c.probe.Probe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.m.last = c.clock.Now()
		wait = c.m.step(r)
		if !send(ctx, updates, c.m.status(c.key)) {
			return nil
		}
	}
}

func send(ctx context.Context, ch chan<- Status, st Status) bool {
	select {
	case ch <- st:
		return true
	case <-ctx.Done():
		return false
	}
}

// machine is keepalived's per-checker state (tcp_epilog in check_tcp.c;
// the other checkers do the same).
type machine struct {
	t        Timing
	up       bool
	hasRun   bool // a verdict (up or down) has been reached
	retryIt  int  // retries done in the current failure streak
	failures int
	weight   int
	offset   int
	detail   string
	last     time.Time
}

func newMachine(t Timing) machine {
	return machine{t: t, up: !t.Alpha, weight: -1, detail: "initial"}
}

// step records a probe result and returns the wait before the next probe.
// A checker that is UP (or has no verdict yet, as with alpha) goes DOWN after 1+Retry
// consecutive failures spaced by DelayBeforeRetry; a DOWN checker is
// probed every DelayLoop; one success makes it UP.
func (m *machine) step(r Result) time.Duration {
	m.detail = r.Detail
	wait := m.t.DelayLoop
	if r.OK {
		m.failures, m.retryIt = 0, 0
		m.up = true
		m.weight, m.offset = r.Weight, r.Offset
		m.hasRun = true
	} else {
		m.failures++
		switch {
		case (m.up || !m.hasRun) && m.retryIt < m.t.Retry:
			m.retryIt++
			wait = m.t.DelayBeforeRetry
		default:
			m.retryIt = 0
			m.up = false
			m.hasRun = true
		}
	}
	return wait
}

func (m *machine) status(key string) Status {
	return Status{Key: key, Up: m.up, Detail: m.detail, Weight: m.weight, Offset: m.offset, LastCheck: m.last, Failures: m.failures}
}
