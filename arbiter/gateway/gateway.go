package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// Probe methods.
const (
	MethodARP  = "arp"  // ARP request (IPv4 default)
	MethodICMP = "icmp" // ICMP/ICMPv6 echo (IPv6 always uses this)
	MethodBoth = "both" // a target answers only if ARP and ICMP both answer
)

// Config configures the gateway probe.
//
// Healthy means ALL targets are up: keepalived users list the gateways the
// node needs, and a node that cannot reach one of them should not claim.
// Each target is counted separately, exactly like a keepalived vrrp_script:
// after Fall consecutive failed probes it is down, after Rise consecutive
// answered probes it is up again.
type Config struct {
	Targets   []netip.Addr
	Interval  time.Duration // between probe rounds (default 1s)
	Timeout   time.Duration // per probe (default Interval, as keepalived's script timeout)
	Fall      int           // default 1 (keepalived's default)
	Rise      int           // default 1
	Method    string        // arp (default), icmp or both
	Interface string        // where to probe; empty: the route to each target decides
	// InitFail makes each target start down, needing Rise answers (keepalived
	// init_fail); by default the first result decides, as in keepalived.
	InitFail bool
}

func (c *Config) setDefaults() error {
	if len(c.Targets) == 0 {
		return errors.New("gateway: no targets")
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Timeout <= 0 || c.Timeout > c.Interval {
		c.Timeout = c.Interval
	}
	c.Fall, c.Rise = max(c.Fall, 1), max(c.Rise, 1)
	switch c.Method {
	case "":
		c.Method = MethodARP
	case MethodARP, MethodICMP, MethodBoth:
	default:
		return fmt.Errorf("gateway: unknown method %q (want arp, icmp or both)", c.Method)
	}
	return nil
}

// Prober sends one probe to target and returns nil if it answered before
// ctx ended.
type Prober interface {
	Probe(ctx context.Context, target netip.Addr) error
}

// Status is the gateway verdict.
type Status struct {
	Healthy bool
	Reason  string
	At      time.Time // when Healthy last changed
}

// Gateway probes the targets every Interval.
type Gateway struct {
	cfg     Config
	prober  Prober
	clock   clock.Clock
	log     *slog.Logger
	changes chan Status // cap 1, latest value; only Run sends

	mu     sync.Mutex // guards status and tr
	status Status
	tr     *tracker
}

// New returns a Gateway; call Run to start probing. Until the first round
// completes it is unhealthy ("no probe yet"), so a fresh node never claims
// on an unknown gateway.
func New(cfg Config, prober Prober, clk clock.Clock, log *slog.Logger) (*Gateway, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gateway{
		cfg: cfg, prober: prober, clock: clk, log: log.With("component", "gateway"),
		changes: make(chan Status, 1),
		status:  Status{Reason: "no probe yet", At: clk.Now()},
		tr:      newTracker(cfg),
	}, nil
}

// Healthy reports the current verdict and why.
func (g *Gateway) Healthy() (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status.Healthy, g.status.Reason
}

// Changes delivers the latest Status whenever Healthy flips. Slow readers
// miss intermediate values, never the latest.
func (g *Gateway) Changes() <-chan Status { return g.changes }

// Run probes until ctx is cancelled; it returns nil on cancel.
func (g *Gateway) Run(ctx context.Context) error {
	for {
		start := g.clock.Now()
		results := g.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		g.record(results, g.clock.Now())
		wait := g.cfg.Interval - g.clock.Now().Sub(start)
		select {
		case <-ctx.Done():
			return nil
		case <-g.clock.After(max(wait, 0)):
		}
	}
}

// round probes every target concurrently.
func (g *Gateway) round(ctx context.Context) []error {
	results := make([]error, len(g.cfg.Targets))
	var wg sync.WaitGroup
	for i, t := range g.cfg.Targets {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
			defer cancel()
			results[i] = g.prober.Probe(pctx, t)
		})
	}
	wg.Wait()
	return results
}

func (g *Gateway) record(results []error, now time.Time) {
	g.mu.Lock()
	healthy, reason := g.tr.observe(results)
	changed := healthy != g.status.Healthy || g.status.Reason == "no probe yet"
	g.status.Reason = reason
	if changed {
		g.status.Healthy, g.status.At = healthy, now
	}
	st := g.status
	g.mu.Unlock()
	if !changed {
		return
	}
	g.log.Info("gateway verdict", "healthy", st.Healthy, "reason", st.Reason)
	select { // replace an unread value: the latest verdict wins
	case <-g.changes:
	default:
	}
	g.changes <- st
}

// tracker is the pure rise/fall counting (not safe for concurrent use).
type tracker struct {
	cfg     Config
	targets []targetCount
}

// targetCount is keepalived's script counter (vrrp_scheduler.c): result
// runs 0..rise+fall-1 and the target is up while result >= rise. A success
// at rise-1 jumps to the top; a failure at rise drops to 0. So from up it
// takes Fall consecutive failures to go down, from down Rise consecutive
// successes to go up, and one success while falling resets the fall count.
type targetCount struct {
	result  int
	known   bool
	lastErr error
}

func newTracker(cfg Config) *tracker {
	t := &tracker{cfg: cfg, targets: make([]targetCount, len(cfg.Targets))}
	for i := range t.targets {
		if !cfg.InitFail {
			t.targets[i].result = cfg.Rise - 1
		}
	}
	return t
}

func (c *targetCount) observe(ok bool, rise, fall int) {
	c.known = true
	top := rise + fall - 1
	switch {
	case ok && c.result < rise-1:
		c.result++
	case ok:
		c.result = top
	case c.result > rise:
		c.result--
	default:
		c.result = 0
	}
}

// observe records one round (results[i] for Targets[i], nil = answered)
// and returns the verdict.
func (t *tracker) observe(results []error) (bool, string) {
	for i, err := range results {
		c := &t.targets[i]
		c.observe(err == nil, t.cfg.Rise, t.cfg.Fall)
		if err != nil {
			c.lastErr = err
		}
	}
	for i, c := range t.targets {
		if !c.known {
			return false, "no probe yet"
		}
		if c.result < t.cfg.Rise {
			return false, fmt.Sprintf("gateway %v down (%s; last error: %v)", t.cfg.Targets[i], t.cfg.Method, c.lastErr)
		}
	}
	if len(t.targets) == 1 {
		return true, fmt.Sprintf("gateway %v answers (%s)", t.cfg.Targets[0], t.cfg.Method)
	}
	return true, fmt.Sprintf("all %d gateways answer (%s)", len(t.targets), t.cfg.Method)
}
