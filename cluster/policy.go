package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/arbiter"
	"github.com/vipd/vipd/arbiter/gateway"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/control"
)

// Timings of the policy task.
const (
	// GatewayCheckInterval is how often a node whose gateway is down looks
	// for a peer to hand its units to (besides every new verdict).
	GatewayCheckInterval = time.Second
	// PublishInterval is how often this node's instance states are put
	// into gossip.
	PublishInterval = 250 * time.Millisecond

	handoverTimeout = 2 * time.Second // engine status and handover, per check
	publishTimeout  = time.Second     // engine status, per publish
)

// GatewaySettle is how long after losing its gateway a node waits before
// comparing with its peers: long enough for them to detect a shared outage
// (fall × interval of the gateway probe) and gossip it, so an outage for
// everyone does not move the VIP.
func GatewaySettle(fall int, interval time.Duration) time.Duration {
	return time.Duration(fall)*interval + time.Second
}

// Engine is what the policy needs of the VRRP engine (*vrrp.Engine).
type Engine interface {
	Status(ctx context.Context) ([]control.InstanceStatus, error)
	Handover(ctx context.Context, instance, to string) error
}

// Arbiter is what the policy tells the mastership gate (*arbiter.Arbiter).
type Arbiter interface {
	SetGateway(ok bool, why string)
	SetView(unit string, holders []arbiter.Holder)
}

// View is the gossip layer as the policy uses it (*Gossip).
type View interface {
	Members() []Member
	SetLocal(insts []InstanceState)
	Changes() <-chan struct{}
}

var _ View = (*Gossip)(nil)

// PolicyConfig configures a Policy.
type PolicyConfig struct {
	Node    string // this node's name, as gossip knows it
	Engine  Engine
	Arbiter Arbiter
	// Gossip is the cluster view; nil without memberlist: nothing is
	// published, no view is followed and no unit is ever handed over for
	// the gateway (without a view of the peers, keeping the VIP is the
	// safe choice).
	Gossip View
	// Gateway delivers the gateway prober's verdicts
	// (gateway.Gateway.Changes); nil without gateways.
	Gateway <-chan gateway.Status
	// Settle is how long the gateway must have been down before a unit is
	// handed over (GatewaySettle).
	Settle time.Duration
	Clock  clock.Clock  // default clock.Real()
	Log    *slog.Logger // default: discard
}

// Policy connects the arbiter's companions to the arbiter and the engine:
//
//   - it passes the gateway prober's verdicts to the arbiter (a node
//     without its gateway does not claim) and, while the gateway is down
//     and once it has settled, hands held units over when a live peer with
//     a healthy gateway is an eligible backup for them (GatewayHandovers);
//   - it publishes this node's instance states in gossip every
//     PublishInterval (LocalStates);
//   - it gives the arbiter what gossip says about each unit (Holders), so a
//     newer token elsewhere makes this node step down.
//
// Run does all three; the Gateway method reads the last verdict.
type Policy struct {
	cfg   PolicyConfig
	clock clock.Clock
	log   *slog.Logger

	// mu guards the fields below. The gateway loop writes them; the
	// publish loop and Gateway read gwOK and gwWhy.
	mu       sync.Mutex
	gwOK     bool
	gwWhy    string
	gwDownAt time.Time
	// handedOver remembers units handed over for the current gateway
	// outage, so a flapping view does not hand over twice. A healthy
	// verdict clears it.
	handedOver map[string]bool
}

// NewPolicy returns a Policy; call Run to start it. Until the first
// verdict the gateway counts as healthy, as it does for the arbiter.
func NewPolicy(cfg PolicyConfig) *Policy {
	p := &Policy{cfg: cfg, clock: cfg.Clock, log: cfg.Log, gwOK: true, handedOver: map[string]bool{}}
	if p.clock == nil {
		p.clock = clock.Real()
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// Run follows the gateway verdicts (when there is a prober), publishes
// and follows gossip (when there is a gossip layer) until ctx is
// cancelled. It returns nil on cancel, once its loops have returned.
func (p *Policy) Run(ctx context.Context) error {
	var wg sync.WaitGroup // Run waits for every loop it starts
	if p.cfg.Gateway != nil {
		wg.Go(func() { p.followGateway(ctx) })
	}
	if p.cfg.Gossip != nil {
		wg.Go(func() { p.publish(ctx) })
		wg.Go(func() { p.followView(ctx) })
	}
	wg.Wait()
	return nil
}

// Gateway is the last verdict of the gateway prober (healthy until the
// first one).
func (p *Policy) Gateway() (ok bool, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gwOK, p.gwWhy
}

// followGateway hands the prober's verdicts to the arbiter and, while the
// gateway is down, checks every GatewayCheckInterval and at every verdict
// whether to hand units over.
func (p *Policy) followGateway(ctx context.Context) {
	tick := newTicker(p.clock, GatewayCheckInterval)
	defer tick.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-p.cfg.Gateway:
			p.setGateway(st)
		case <-tick.c:
		}
		p.handOverIfBetter(ctx)
	}
}

// setGateway records a verdict and passes it to the arbiter. A gateway
// that comes back ends the outage: units may be handed over again the
// next time.
func (p *Policy) setGateway(st gateway.Status) {
	p.mu.Lock()
	if p.gwOK && !st.Healthy {
		p.gwDownAt = p.clock.Now()
	}
	p.gwOK, p.gwWhy = st.Healthy, st.Reason
	if st.Healthy {
		clear(p.handedOver)
	}
	p.mu.Unlock()
	p.cfg.Arbiter.SetGateway(st.Healthy, st.Reason)
	p.log.Info("gateway", "healthy", st.Healthy, "reason", st.Reason)
}

// handOverIfBetter applies the gateway rule: while the gateway has been
// down for the settle period, hand over the units GatewayHandovers names.
// A unit whose handover fails is tried again at the next check.
func (p *Policy) handOverIfBetter(ctx context.Context) {
	if p.cfg.Gossip == nil {
		return // without a view of the peers, keep the VIP (the safe choice)
	}
	p.mu.Lock()
	down := !p.gwOK
	settling := p.clock.Now().Sub(p.gwDownAt) < p.cfg.Settle
	done := make(map[string]bool, len(p.handedOver))
	for u := range p.handedOver {
		done[u] = true
	}
	p.mu.Unlock()
	if !down || settling {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, handoverTimeout)
	defer cancel()
	insts, err := p.cfg.Engine.Status(sctx)
	if err != nil {
		return
	}
	for _, h := range GatewayHandovers(p.cfg.Node, p.cfg.Gossip.Members(), insts, done) {
		if done[h.Unit] {
			continue // another instance of the unit (a sync group) was just handed over
		}
		p.log.Warn("gateway lost; handing over to a peer with a healthy gateway", "instance", h.Instance, "why", h.Reason)
		if err := p.cfg.Engine.Handover(sctx, h.Instance, ""); err != nil {
			p.log.Warn("gateway handover", "instance", h.Instance, "err", err)
			continue
		}
		done[h.Unit] = true
		p.mu.Lock()
		p.handedOver[h.Unit] = true
		p.mu.Unlock()
	}
}

// GatewayHandover is an instance to hand over because this node's gateway
// is down, and why.
type GatewayHandover struct {
	Instance string // the engine's instance
	Unit     string // its ownership key: the instance or "group:NAME"
	Reason   string
}

// GatewayHandovers is the gateway rule for a node whose gateway has been
// down for the settle period: each instance it holds (MASTER and gated by
// the arbiter) whose unit is not in handedOver is handed over when a live
// member other than node gossips the unit as an eligible backup (BACKUP)
// with a healthy gateway (arbiter.ShouldHandOver). A gateway down for
// everyone hands nothing over, so the VIP neither flaps between equally
// bad nodes nor vanishes. Instances of one unit (a sync group) each appear;
// the caller hands the unit over once. Pure.
func GatewayHandovers(node string, members []Member, insts []control.InstanceStatus, handedOver map[string]bool) []GatewayHandover {
	var out []GatewayHandover
	for _, in := range insts {
		if in.State != StateMaster || in.Arbiter == nil {
			continue
		}
		unit := in.Arbiter.Unit
		if handedOver[unit] {
			continue
		}
		var cands []arbiter.Candidate
		var better []string
		for _, m := range members {
			if m.Node == node || !m.Alive {
				continue
			}
			for _, is := range m.Instances {
				if is.Name != unit {
					continue
				}
				c := arbiter.Candidate{Node: m.Node, GatewayOK: is.GatewayOK, Eligible: is.State == StateBackup}
				cands = append(cands, c)
				if c.Eligible && c.GatewayOK {
					better = append(better, m.Node)
				}
			}
		}
		if !arbiter.ShouldHandOver(false, cands) {
			continue
		}
		out = append(out, GatewayHandover{Instance: in.Name, Unit: unit,
			Reason: fmt.Sprintf("peers with a healthy gateway stand by for %s: %s", unit, strings.Join(better, ", "))})
	}
	return out
}

// publish puts this node's instance states into gossip every
// PublishInterval.
func (p *Policy) publish(ctx context.Context) {
	tick := newTicker(p.clock, PublishInterval)
	defer tick.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.c:
		}
		p.publishOnce(ctx)
	}
}

func (p *Policy) publishOnce(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, publishTimeout)
	insts, err := p.cfg.Engine.Status(sctx)
	cancel()
	if err != nil {
		return
	}
	gwOK, _ := p.Gateway()
	p.cfg.Gossip.SetLocal(LocalStates(insts, gwOK))
}

// LocalStates is what this node publishes in gossip: one entry per
// instance, named by its unit when the arbiter gates it (peers compare
// units), carrying the fencing token only while the grant holds, and this
// node's gateway verdict. Pure.
func LocalStates(insts []control.InstanceStatus, gatewayOK bool) []InstanceState {
	var out []InstanceState
	for _, in := range insts {
		st := InstanceState{Name: in.Name, State: in.State, Priority: in.Priority, GatewayOK: gatewayOK, Since: in.Last.At}
		if in.Arbiter != nil {
			st.Name = in.Arbiter.Unit
			if in.Arbiter.Granted {
				st.Token = in.Arbiter.Token
			}
		}
		out = append(out, st)
	}
	return out
}

// followView gives the arbiter the gossip view of every unit at each
// change.
func (p *Policy) followView(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.cfg.Gossip.Changes():
		}
		p.updateView()
	}
}

func (p *Policy) updateView() {
	for unit, hs := range Holders(p.cfg.Node, p.cfg.Gossip.Members()) {
		p.cfg.Arbiter.SetView(unit, hs)
	}
}

// Holders is the gossip view of each unit for the arbiter: every live
// member other than node that publishes the unit, with its token and
// state. A unit nobody else publishes is absent (its last view stands).
// Pure.
func Holders(node string, members []Member) map[string][]arbiter.Holder {
	view := map[string][]arbiter.Holder{}
	for _, m := range members {
		if m.Node == node || !m.Alive {
			continue
		}
		for _, is := range m.Instances {
			view[is.Name] = append(view[is.Name], arbiter.Holder{Node: m.Node, Token: is.Token, State: is.State})
		}
	}
	return view
}

// ticker delivers a tick on c every d of clock time, dropping ticks a
// slow reader misses (time.Ticker's semantics on an injected clock).
type ticker struct {
	c     chan struct{} // cap 1; only the clock's callbacks send
	clock clock.Clock
	d     time.Duration

	mu      sync.Mutex // guards stopped and cancel
	stopped bool
	cancel  func() bool
}

func newTicker(clk clock.Clock, d time.Duration) *ticker {
	t := &ticker{c: make(chan struct{}, 1), clock: clk, d: d}
	t.mu.Lock()
	t.cancel = clk.AfterFunc(d, t.fire)
	t.mu.Unlock()
	return t
}

// fire runs in the clock's callback: it re-arms first, so the period does
// not drift with the reader.
func (t *ticker) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.cancel = t.clock.AfterFunc(t.d, t.fire)
	select {
	case t.c <- struct{}{}:
	default:
	}
}

func (t *ticker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	t.cancel()
}
