package track

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/clock"
)

// fakeResult is what fakeRunner answers to one Run call.
type fakeResult struct {
	code int
	err  error
}

type fakeCall struct {
	Argv    []string
	Timeout time.Duration
	User    string
}

// fakeRunner hands each Run call the next result the test sends on results.
type fakeRunner struct {
	results chan fakeResult
	calls   chan fakeCall
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{results: make(chan fakeResult), calls: make(chan fakeCall, 100)}
}

func (f *fakeRunner) Run(ctx context.Context, argv []string, timeout time.Duration, user string) (int, error) {
	f.calls <- fakeCall{Argv: argv, Timeout: timeout, User: user}
	select {
	case r := <-f.results:
		return r.code, r.err
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

var (
	ok      = fakeResult{code: 0}
	fail    = fakeResult{code: 1}
	timeout = fakeResult{code: -1, err: fmt.Errorf("x: %w", ErrTimedOut)}
)

// step is one script result and the Status it must produce ("" = none).
type step struct {
	res  fakeResult
	want string // "", "good" or "bad"
}

func TestScriptRiseFall(t *testing.T) {
	tests := []struct {
		name     string
		rise     int
		fall     int
		initFail bool
		initial  string // Status expected before the first run
		steps    []step
	}{
		{name: "defaults: first success decides", steps: []step{{ok, "good"}, {fail, "bad"}, {ok, "good"}, {ok, ""}}},
		{name: "defaults: first failure decides", steps: []step{{fail, "bad"}, {fail, ""}, {ok, "good"}}},
		{name: "rise 2 fall 3", rise: 2, fall: 3, steps: []step{
			{ok, "good"}, // starts at rise-1: one success is enough
			{fail, ""}, {fail, ""}, {fail, "bad"},
			{ok, ""}, {ok, "good"},
			{fail, ""}, {ok, ""}, // a success in between resets the fall count
			{fail, ""}, {fail, ""}, {fail, "bad"},
		}},
		{name: "rise 2 fall 3 first failure", rise: 2, fall: 3, steps: []step{
			{fail, "bad"}, {ok, ""}, {ok, "good"},
		}},
		{name: "rise 2 fall 3 init_fail", rise: 2, fall: 3, initFail: true, initial: "bad", steps: []step{
			{ok, ""}, {ok, "good"}, {fail, ""}, {fail, ""}, {fail, "bad"},
		}},
		{name: "init_fail rise 1", initFail: true, initial: "bad", steps: []step{{ok, "good"}}},
		{name: "init_fail then failure: no change", initFail: true, initial: "bad", steps: []step{{fail, ""}, {ok, "good"}}},
		{name: "timeout is a failure", steps: []step{{ok, "good"}, {timeout, "bad"}, {ok, "good"}}},
		{name: "start error is a failure", steps: []step{{fakeResult{-1, errors.New("start: no such file")}, "bad"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			clk := clock.NewFake(time.Unix(1000, 0))
			run := newFakeRunner()
			cfg := ScriptConfig{Name: "chk", Command: `/bin/chk "a b"`, Interval: 2 * time.Second,
				Rise: tt.rise, Fall: tt.fall, InitFail: tt.initFail, User: "nobody"}
			s := NewScript(cfg, run, clk)
			updates := make(chan Status, 100)
			errc := make(chan error, 1)
			go func() { errc <- s.Run(ctx, updates) }()

			if tt.initial != "" {
				st := <-updates
				if diff := cmp.Diff(Status{Name: "chk", Kind: KindScript, Known: true, OK: false,
					Detail: "init_fail", Since: clk.Now()}, st); diff != "" {
					t.Fatalf("initial status mismatch (-want +got):\n%s", diff)
				}
			}
			for i, stp := range tt.steps {
				if i > 0 {
					clk.Advance(2 * time.Second)
				}
				call := <-run.calls
				if diff := cmp.Diff(fakeCall{Argv: []string{"/bin/chk", "a b"}, Timeout: 2 * time.Second, User: "nobody"}, call); diff != "" {
					t.Fatalf("step %d: runner call mismatch (-want +got):\n%s", i, diff)
				}
				run.results <- stp.res
				// The script sleeps on the clock once it has sent any update.
				if err := clk.BlockUntil(ctx, 1); err != nil {
					t.Fatalf("step %d: script did not finish its run: %v", i, err)
				}
				got := ""
				select {
				case st := <-updates:
					got = "bad"
					if st.OK {
						got = "good"
					}
					if !st.Known || st.Name != "chk" || st.Kind != KindScript || !st.Since.Equal(clk.Now()) {
						t.Errorf("step %d: bad status %+v", i, st)
					}
					wantDetail := detail(stp.res.code, stp.res.err)
					if st.Detail != wantDetail {
						t.Errorf("step %d: Detail = %q, want %q", i, st.Detail, wantDetail)
					}
				default:
				}
				if got != stp.want {
					t.Errorf("step %d (%+v): update = %q, want %q", i, stp.res, got, stp.want)
				}
				select {
				case st := <-updates:
					t.Errorf("step %d: extra update %+v", i, st)
				default:
				}
			}
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run() = %v, want nil on cancel", err)
			}
		})
	}
}

// TestScriptIntervalFromStart checks that runs keep keepalived's cadence:
// ticks every Interval from the first run, skipping ticks while the
// script is still running.
func TestScriptIntervalFromStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clk := clock.NewFake(time.Unix(1000, 0))
	run := newFakeRunner()
	s := NewScript(ScriptConfig{Name: "chk", Command: "chk", Interval: 2 * time.Second, Timeout: 5 * time.Second}, run, clk)
	updates := make(chan Status, 10)
	go func() { _ = s.Run(ctx, updates) }()

	start := clk.Now()
	<-run.calls
	clk.Advance(3 * time.Second) // the run takes 3 s: the tick at 2 s is skipped
	run.results <- ok
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(999 * time.Millisecond)
	if n := clk.Waiters(); n != 1 {
		t.Fatalf("next run started before the 4 s tick (%d timers pending)", n)
	}
	clk.Advance(time.Millisecond)
	<-run.calls
	if got := clk.Now().Sub(start); got != 4*time.Second {
		t.Errorf("second run at +%v, want +4s", got)
	}
	run.results <- ok
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // a run that takes no time: next tick 2 s later
	<-run.calls
	if got := clk.Now().Sub(start); got != 6*time.Second {
		t.Errorf("third run at +%v, want +6s", got)
	}
}

func TestScriptTimedOutDetail(t *testing.T) {
	if got := detail(-1, fmt.Errorf("sleep: %w after 1s", ErrTimedOut)); got != "timed_out" {
		t.Errorf("detail(timeout) = %q, want timed_out", got)
	}
}

func TestScriptDefaults(t *testing.T) {
	s := NewScript(ScriptConfig{Name: "x", Command: "x"}, nil, clock.Real())
	want := ScriptConfig{Name: "x", Command: "x", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	if diff := cmp.Diff(want, s.cfg); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}
	s = NewScript(ScriptConfig{Name: "x", Command: "x", Interval: 5 * time.Second}, nil, clock.Real())
	if s.cfg.Timeout != 5*time.Second {
		t.Errorf("Timeout = %v, want the interval (5s)", s.cfg.Timeout)
	}
}

func TestScriptBadCommand(t *testing.T) {
	s := NewScript(ScriptConfig{Name: "x", Command: `"unterminated`}, newFakeRunner(), clock.NewFake(time.Unix(0, 0)))
	if err := s.Run(context.Background(), make(chan Status, 1)); err == nil {
		t.Error("Run() with an unterminated quote = nil, want error")
	}
}
