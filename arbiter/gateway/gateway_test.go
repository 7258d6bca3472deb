package gateway

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/clock"
)

var (
	gw1 = netip.MustParseAddr("192.0.2.1")
	gw2 = netip.MustParseAddr("192.0.2.2")
)

var errNoAnswer = errors.New("no answer")

// rounds is written as one string per round, one char per target:
// '+' answered, '-' failed.
func parseRound(s string) []error {
	out := make([]error, len(s))
	for i, c := range s {
		if c == '-' {
			out[i] = errNoAnswer
		}
	}
	return out
}

func TestTracker(t *testing.T) {
	tests := []struct {
		name     string
		targets  int
		rise     int
		fall     int
		initFail bool
		rounds   []string
		want     string // verdict after each round: H healthy, U unhealthy
	}{
		{name: "defaults: first result decides", targets: 1, rise: 1, fall: 1,
			rounds: []string{"+", "-", "+"}, want: "HUH"},
		{name: "first failure is down at once", targets: 1, rise: 3, fall: 3,
			rounds: []string{"-", "+", "+", "+"}, want: "UUUH"},
		{name: "first success is up at once without init_fail", targets: 1, rise: 3, fall: 2,
			rounds: []string{"+"}, want: "H"},
		{name: "init_fail needs rise answers", targets: 1, rise: 3, fall: 2, initFail: true,
			rounds: []string{"+", "+", "+"}, want: "UUH"},
		{name: "fall consecutive failures", targets: 1, rise: 2, fall: 3,
			rounds: []string{"+", "-", "-", "-", "-"}, want: "HHHUU"},
		{name: "a success while falling resets the fall count", targets: 1, rise: 2, fall: 3,
			rounds: []string{"+", "-", "-", "+", "-", "-", "-"}, want: "HHHHHHU"},
		{name: "a failure while rising restarts the rise count", targets: 1, rise: 3, fall: 1,
			rounds: []string{"-", "+", "+", "-", "+", "+", "+"}, want: "UUUUUUH"},
		{name: "all targets must be up", targets: 2, rise: 1, fall: 2,
			rounds: []string{"++", "+-", "+-", "++", "-+", "--", "++"}, want: "HHUHHUH"},
		{name: "each target counted on its own", targets: 2, rise: 2, fall: 2, initFail: true,
			rounds: []string{"+-", "-+", "++", "++"}, want: "UUUH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Targets: []netip.Addr{gw1, gw2}[:tt.targets], Rise: tt.rise, Fall: tt.fall, InitFail: tt.initFail}
			if err := cfg.setDefaults(); err != nil {
				t.Fatal(err)
			}
			tr := newTracker(cfg)
			var got strings.Builder
			for _, r := range tt.rounds {
				healthy, reason := tr.observe(parseRound(r))
				if healthy {
					got.WriteByte('H')
				} else {
					got.WriteByte('U')
				}
				t.Logf("%s → %v (%s)", r, healthy, reason)
			}
			if diff := cmp.Diff(tt.want, got.String()); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
		})
	}
}

// nextRound waits until Run has finished a round and parked on the clock,
// calls parked, then advances the clock by what Run asked to wait, which
// starts the next round.
func nextRound(t *testing.T, clk *clock.Fake, parked func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal("Run did not finish a round")
	}
	parked()
	d, _ := clk.Next()
	clk.Advance(d)
}

// scriptProber answers per target from a script of rounds.
type scriptProber struct {
	mu     sync.Mutex
	script map[netip.Addr]string
	calls  map[netip.Addr]int
}

func (p *scriptProber) Probe(_ context.Context, target netip.Addr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.script[target]
	i := min(p.calls[target], len(s)-1)
	p.calls[target]++
	if s[i] == '-' {
		return errNoAnswer
	}
	return nil
}

func TestRunReportsChanges(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	prober := &scriptProber{calls: map[netip.Addr]int{}, script: map[netip.Addr]string{
		gw1: "++---+++",
		gw2: "++++++++",
	}}
	g, err := New(Config{Targets: []netip.Addr{gw1, gw2}, Interval: time.Second, Rise: 2, Fall: 3}, prober, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, reason := g.Healthy(); ok || reason != "no probe yet" {
		t.Errorf("before Run: Healthy() = %v, %q; want false, no probe yet", ok, reason)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()

	var got []bool
	var at []time.Duration
	start := clk.Now()
	for range 8 {
		nextRound(t, clk, func() {
			select {
			case st := <-g.Changes():
				got = append(got, st.Healthy)
				at = append(at, st.At.Sub(start))
			default:
			}
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// Round 1 (t=0): healthy. Rounds 3,4,5 fail gw1 → down after the 3rd
	// failure (t=4s). Rounds 6,7 answer → up after the 2nd (t=6s).
	if diff := cmp.Diff([]bool{true, false, true}, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{0, 4 * time.Second, 6 * time.Second}, at); diff != "" {
		t.Errorf("change times (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Targets: []netip.Addr{gw1}, Method: "tcp"}} {
		if _, err := New(cfg, nil, nil, nil); err == nil {
			t.Errorf("New(%+v) succeeded, want error", cfg)
		}
	}
}
