package check

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
)

var (
	ok   = Result{OK: true, Detail: "connected", Weight: -1}
	bad  = Result{Detail: "connect refused", Weight: -1}
	dyn3 = Result{OK: true, Detail: "exit 5", Weight: 3}
	dyn0 = Result{OK: true, Detail: "exit 0", Weight: -1}
)

// step is one probe result and what the machine should do with it.
type step struct {
	res      Result
	wait     time.Duration // before the next probe
	up       bool
	failures int
	weight   int
}

func TestMachine(t *testing.T) {
	const loop, retry = 10 * time.Second, 2 * time.Second
	timing := func(retries int, alpha bool) Timing {
		return Timing{DelayLoop: loop, DelayBeforeRetry: retry, Retry: retries, Alpha: alpha}
	}
	tests := []struct {
		name   string
		timing Timing
		initUp bool
		steps  []step
	}{
		{
			name: "retry 1: down after 2 failures", timing: timing(1, false), initUp: true,
			steps: []step{
				{ok, loop, true, 0, -1},
				{bad, retry, true, 1, -1},
				{bad, loop, false, 2, -1},
				{bad, loop, false, 3, -1}, // down: no retries, delay_loop
				{ok, loop, true, 0, -1},   // one success recovers
			},
		},
		{
			name: "retry 3: a success in the streak resets it", timing: timing(3, false), initUp: true,
			steps: []step{
				{bad, retry, true, 1, -1},
				{bad, retry, true, 2, -1},
				{ok, loop, true, 0, -1},
				{bad, retry, true, 1, -1},
				{bad, retry, true, 2, -1},
				{bad, retry, true, 3, -1},
				{bad, loop, false, 4, -1},
			},
		},
		{
			name: "retry 0 (MISC_CHECK): one failure is down", timing: timing(0, false), initUp: true,
			steps: []step{
				{bad, loop, false, 1, -1},
				{ok, loop, true, 0, -1},
			},
		},
		{
			name: "alpha: down until the first success", timing: timing(1, true), initUp: false,
			steps: []step{
				{bad, retry, false, 1, -1}, // not run yet: retries as keepalived's !has_run
				{bad, loop, false, 2, -1},
				{bad, loop, false, 3, -1},
				{ok, loop, true, 0, -1},
			},
		},
		{
			name: "alpha: first success brings it up", timing: timing(1, true), initUp: false,
			steps: []step{{ok, loop, true, 0, -1}},
		},
		{
			name: "misc_dynamic weight kept over failure, reset by exit 0", timing: timing(0, false), initUp: true,
			steps: []step{
				{dyn3, loop, true, 0, 3},
				{bad, loop, false, 1, 3},
				{dyn0, loop, true, 0, -1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachine(tt.timing)
			if m.up != tt.initUp {
				t.Fatalf("initial up = %v, want %v", m.up, tt.initUp)
			}
			var got []step
			for _, s := range tt.steps {
				wait := m.step(s.res)
				got = append(got, step{s.res, wait, m.up, m.failures, m.weight})
			}
			if diff := cmp.Diff(tt.steps, got, cmp.AllowUnexported(step{})); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}

// parked waits until the checker waits on clk and returns how long it
// asked to wait.
func parked(ctx context.Context, t *testing.T, clk *clock.Fake) time.Duration {
	t.Helper()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal("checker did not wait")
	}
	d, _ := clk.Next()
	return d
}

// nextProbe returns the wait the checker asked for before its next status, and
// that status. A checker that parks on clk is woken by advancing clk that
// far; one that probes at once (a wait of 0) sends without parking.
func nextProbe(ctx context.Context, t *testing.T, clk *clock.Fake, updates <-chan Status) (time.Duration, Status) {
	t.Helper()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waiting := make(chan error, 1)
	go func() { waiting <- clk.BlockUntil(pctx, 1) }()
	select {
	case st := <-updates:
		return 0, st
	case err := <-waiting:
		if err != nil {
			t.Fatal("checker neither probed nor waited")
		}
	}
	d, _ := clk.Next()
	clk.Advance(d)
	return d, recv(ctx, t, updates)
}

// scripted returns its results in order, then successes.
type scripted struct {
	mu      sync.Mutex
	results []Result
}

func (s *scripted) Probe(context.Context) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.results) == 0 {
		return ok
	}
	r := s.results[0]
	s.results = s.results[1:]
	return r
}

func TestCheckerRun(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type obs struct {
		Wait   time.Duration // the wait asked before this probe
		At     time.Duration // probe time since start
		Up     bool
		Detail string
		Fails  int
	}
	tests := []struct {
		name    string
		timing  Timing
		warmup  time.Duration // what Rand returns
		results []Result
		want    []obs
		initUp  bool
	}{
		{
			name:   "warmup then retry then down then recovery",
			timing: Timing{DelayLoop: 6 * time.Second, DelayBeforeRetry: time.Second, Retry: 1, Warmup: 6 * time.Second},
			warmup: 4 * time.Second, initUp: true,
			results: []Result{ok, bad, bad, bad, ok},
			want: []obs{
				{4 * time.Second, 4 * time.Second, true, "connected", 0},
				{6 * time.Second, 10 * time.Second, true, "connect refused", 1},
				{1 * time.Second, 11 * time.Second, false, "connect refused", 2},
				{6 * time.Second, 17 * time.Second, false, "connect refused", 3},
				{6 * time.Second, 23 * time.Second, true, "connected", 0},
			},
		},
		{
			name:    "warmup 0 checks at once; alpha starts down",
			timing:  Timing{DelayLoop: 5 * time.Second, DelayBeforeRetry: 2 * time.Second, Retry: 2, Alpha: true},
			warmup:  time.Hour, // must not be used
			initUp:  false,
			results: []Result{bad, bad, bad, ok},
			want: []obs{
				{0, 0, false, "connect refused", 1},
				{2 * time.Second, 2 * time.Second, false, "connect refused", 2},
				{2 * time.Second, 4 * time.Second, false, "connect refused", 3},
				{5 * time.Second, 9 * time.Second, true, "connected", 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			clk := clock.NewFake(start)
			var randMax time.Duration
			c := NewChecker("rs1/tcp", &scripted{results: tt.results}, tt.timing, Options{
				Clock: clk,
				Rand:  func(max time.Duration) time.Duration { randMax = max; return tt.warmup },
			})
			updates := make(chan Status)
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, updates) }()

			first := recv(ctx, t, updates)
			if diff := cmp.Diff(Status{Key: "rs1/tcp", Up: tt.initUp, Detail: "initial", Weight: -1}, first); diff != "" {
				t.Fatalf("initial status (-want +got):\n%s", diff)
			}
			var got []obs
			for range tt.want {
				wait, st := nextProbe(ctx, t, clk, updates)
				got = append(got, obs{wait, st.LastCheck.Sub(start), st.Up, st.Detail, st.Failures})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("probes (-want +got):\n%s", diff)
			}
			if tt.timing.Warmup > 0 && randMax != tt.timing.Warmup {
				t.Errorf("Rand max = %v, want warmup %v", randMax, tt.timing.Warmup)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v, want nil on cancel", err)
			}
		})
	}
}

func recv(ctx context.Context, t *testing.T, ch <-chan Status) Status {
	t.Helper()
	select {
	case st := <-ch:
		return st
	case <-ctx.Done():
		t.Fatal("no status")
	}
	return Status{}
}

func TestTimingOf(t *testing.T) {
	ck := &config.Checker{DelayLoop: 7 * time.Second, DelayBeforeRetry: 3 * time.Second, Retry: 2, Warmup: 0}
	want := Timing{DelayLoop: 7 * time.Second, DelayBeforeRetry: 3 * time.Second, Retry: 2, Alpha: true}
	if diff := cmp.Diff(want, TimingOf(ck, true)); diff != "" {
		t.Errorf("TimingOf (-want +got):\n%s", diff)
	}
}

// TestCheckerResumeAndPause: a resumed checker starts from the carried
// state (no flap on reload), and a paused one (ha_suspend) skips its
// probes without changing state.
func TestCheckerResumeAndPause(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clk := clock.NewFake(start)
	var mu sync.Mutex
	paused := true
	resume := Status{Key: "rs1/tcp", Up: false, Detail: "connect refused", Weight: -1, LastCheck: start.Add(-time.Second), Failures: 2}
	c := NewChecker("rs1/tcp", &scripted{results: []Result{bad, ok}}, Timing{DelayLoop: 3 * time.Second, Retry: 1}, Options{
		Clock: clk, Resume: &resume,
		Paused: func() bool { mu.Lock(); defer mu.Unlock(); return paused },
	})
	updates := make(chan Status)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, updates) }()
	if diff := cmp.Diff(resume, recv(ctx, t, updates)); diff != "" {
		t.Fatalf("initial status (-want +got):\n%s", diff)
	}
	// The first probe is due at once (no warmup) and skipped while paused:
	// no status, and the next wait is delay_loop.
	if d := parked(ctx, t, clk); d != 3*time.Second {
		t.Errorf("paused wait = %v, want delay_loop 3s", d)
	}
	select {
	case st := <-updates:
		t.Fatalf("paused checker sent %+v", st)
	default:
	}
	mu.Lock()
	paused = false
	mu.Unlock()
	clk.Advance(3 * time.Second)
	// DOWN already: one failure keeps it DOWN without a retry.
	if st := recv(ctx, t, updates); st.Up || st.Failures != 3 {
		t.Errorf("after a failed probe: up=%v failures=%d, want down with 3", st.Up, st.Failures)
	}
	if wait, st := nextProbe(ctx, t, clk, updates); wait != 3*time.Second {
		t.Errorf("down checker wait = %v, want delay_loop", wait)
	} else if !st.Up {
		t.Errorf("after a success: %+v, want up", st)
	}
	cancel()
	<-done
}
