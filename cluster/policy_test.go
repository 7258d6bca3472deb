package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vipd/vipd/arbiter"
	"github.com/vipd/vipd/arbiter/gateway"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/control"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// master is an instance this node holds under the arbiter.
func master(name, unit string) control.InstanceStatus {
	return control.InstanceStatus{Name: name, State: StateMaster, Priority: 100,
		Arbiter: &control.ArbiterStatus{Unit: unit, Granted: true, Token: 7}}
}

// peer is a member publishing one unit.
func peer(node string, alive bool, unit, state string, gwOK bool) Member {
	return Member{Node: node, Alive: alive, Instances: []InstanceState{{Name: unit, State: state, GatewayOK: gwOK}}}
}

func TestGatewayHandovers(t *testing.T) {
	tests := []struct {
		name       string
		members    []Member
		insts      []control.InstanceStatus
		handedOver map[string]bool
		want       []GatewayHandover
	}{{
		name:    "a live backup with a healthy gateway takes it",
		members: []Member{peer("n1", true, "VI_1", StateMaster, false), peer("n2", true, "VI_1", StateBackup, true)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
		want:    []GatewayHandover{{Instance: "VI_1", Unit: "VI_1", Reason: "peers with a healthy gateway stand by for VI_1: n2"}},
	}, {
		name:    "every healthy eligible peer is named",
		members: []Member{peer("n2", true, "VI_1", StateBackup, true), peer("n3", true, "VI_1", StateBackup, true)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
		want:    []GatewayHandover{{Instance: "VI_1", Unit: "VI_1", Reason: "peers with a healthy gateway stand by for VI_1: n2, n3"}},
	}, {
		name:    "gateway down for everyone",
		members: []Member{peer("n2", true, "VI_1", StateBackup, false), peer("n3", true, "VI_1", StateBackup, false)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
	}, {
		name:    "a dead peer does not count",
		members: []Member{peer("n2", false, "VI_1", StateBackup, true)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
	}, {
		name:    "a peer in FAULT is not eligible",
		members: []Member{peer("n2", true, "VI_1", StateFault, true)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
	}, {
		name:    "this node's own entry is not a peer",
		members: []Member{peer("n1", true, "VI_1", StateBackup, true)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
	}, {
		name:    "a peer standing by for another unit does not count",
		members: []Member{peer("n2", true, "VI_2", StateBackup, true)},
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
	}, {
		name:    "no gossip view yet",
		members: nil,
		insts:   []control.InstanceStatus{master("VI_1", "VI_1")},
	}, {
		name:    "an instance not held is left alone",
		members: []Member{peer("n2", true, "VI_1", StateBackup, true)},
		insts:   []control.InstanceStatus{{Name: "VI_1", State: StateBackup, Arbiter: &control.ArbiterStatus{Unit: "VI_1"}}},
	}, {
		name:    "an instance outside the arbiter is left alone",
		members: []Member{peer("n2", true, "VI_1", StateBackup, true)},
		insts:   []control.InstanceStatus{{Name: "VI_1", State: StateMaster}},
	}, {
		name:       "a unit handed over in this outage is not handed over again",
		members:    []Member{peer("n2", true, "VI_1", StateBackup, true)},
		insts:      []control.InstanceStatus{master("VI_1", "VI_1")},
		handedOver: map[string]bool{"VI_1": true},
	}, {
		name:    "peers are matched by unit: every instance of a sync group is named",
		members: []Member{peer("n2", true, "group:G", StateBackup, true)},
		insts:   []control.InstanceStatus{master("VI_1", "group:G"), master("VI_2", "group:G"), master("VI_3", "VI_3")},
		want: []GatewayHandover{
			{Instance: "VI_1", Unit: "group:G", Reason: "peers with a healthy gateway stand by for group:G: n2"},
			{Instance: "VI_2", Unit: "group:G", Reason: "peers with a healthy gateway stand by for group:G: n2"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := GatewayHandovers("n1", tt.members, tt.insts, tt.handedOver)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GatewayHandovers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLocalStates(t *testing.T) {
	since := t0.Add(-time.Minute)
	tests := []struct {
		name  string
		insts []control.InstanceStatus
		gwOK  bool
		want  []InstanceState
	}{{
		name:  "an instance outside the arbiter is published under its name",
		insts: []control.InstanceStatus{{Name: "VI_1", State: StateBackup, Priority: 90, Last: control.Transition{At: since}}},
		gwOK:  true,
		want:  []InstanceState{{Name: "VI_1", State: StateBackup, Priority: 90, GatewayOK: true, Since: since}},
	}, {
		name: "a gated instance is published under its unit, with the token while granted",
		insts: []control.InstanceStatus{
			{Name: "VI_1", State: StateMaster, Priority: 100, Arbiter: &control.ArbiterStatus{Unit: "group:G", Granted: true, Token: 42}},
			{Name: "VI_2", State: StateBackup, Priority: 50, Arbiter: &control.ArbiterStatus{Unit: "VI_2", Token: 41, Reason: "denied"}},
		},
		gwOK: true,
		want: []InstanceState{
			{Name: "group:G", State: StateMaster, Priority: 100, Token: 42, GatewayOK: true},
			{Name: "VI_2", State: StateBackup, Priority: 50, GatewayOK: true},
		},
	}, {
		name:  "the gateway verdict goes with every entry",
		insts: []control.InstanceStatus{{Name: "VI_1", State: StateMaster}, {Name: "VI_2", State: StateFault}},
		gwOK:  false,
		want:  []InstanceState{{Name: "VI_1", State: StateMaster}, {Name: "VI_2", State: StateFault}},
	}, {
		name: "no instances",
		gwOK: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, LocalStates(tt.insts, tt.gwOK)); diff != "" {
				t.Errorf("LocalStates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHolders(t *testing.T) {
	members := []Member{
		{Node: "n1", Alive: true, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 9}}},
		{Node: "n2", Alive: true, Instances: []InstanceState{{Name: "VI_1", State: StateBackup}, {Name: "group:G", State: StateMaster, Token: 5}}},
		{Node: "n3", Alive: false, State: MemberDead, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 8}}},
		{Node: "n4", Alive: true, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 10}}},
		{Node: "n5", Alive: true},
	}
	want := map[string][]arbiter.Holder{
		"VI_1":    {{Node: "n2", State: StateBackup}, {Node: "n4", Token: 10, State: StateMaster}},
		"group:G": {{Node: "n2", Token: 5, State: StateMaster}},
	}
	if diff := cmp.Diff(want, Holders("n1", members)); diff != "" {
		t.Errorf("Holders (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]arbiter.Holder{}, Holders("n1", members[:1])); diff != "" {
		t.Errorf("Holders of ourselves only (-want +got):\n%s", diff)
	}
}

// TestPolicyGatewayRule drives the gateway loop's steps (a verdict, a
// tick) on a fake clock and checks which handovers the engine is asked
// for at each step.
func TestPolicyGatewayRule(t *testing.T) {
	const settle = 4 * time.Second
	down := &gateway.Status{Healthy: false, Reason: "gateway 10.0.0.1 down"}
	up := &gateway.Status{Healthy: true, Reason: "gateway 10.0.0.1 answers"}
	healthyPeer := []Member{peer("n1", true, "VI_1", StateMaster, false), peer("n2", true, "VI_1", StateBackup, true)}
	type step struct {
		advance time.Duration
		verdict *gateway.Status // nil: a tick
		want    []string        // handovers asked for in this step
	}
	tests := []struct {
		name        string
		members     []Member
		noGossip    bool
		failFirst   int // handovers that fail before one succeeds
		steps       []step
		wantGateway []string // SetGateway calls
		wantStatus  int      // engine status queries
	}{{
		name:    "the settle period is respected",
		members: healthyPeer,
		steps: []step{
			{verdict: down},
			{advance: time.Second},
			{advance: settle - time.Second - time.Millisecond},
			{advance: time.Millisecond, want: []string{"VI_1"}},
		},
		wantGateway: []string{"false: gateway 10.0.0.1 down"},
		wantStatus:  1,
	}, {
		name:    "handed over once while the outage lasts",
		members: healthyPeer,
		steps: []step{
			{verdict: down},
			{advance: settle, want: []string{"VI_1"}},
			{advance: time.Second},
			{advance: time.Second},
			// A new reason while still down neither restarts the settle
			// period nor clears the set.
			{verdict: &gateway.Status{Reason: "gateway 10.0.0.1 down (arp; last error: timeout)"}},
			{advance: time.Second},
		},
		wantGateway: []string{"false: gateway 10.0.0.1 down", "false: gateway 10.0.0.1 down (arp; last error: timeout)"},
		wantStatus:  5,
	}, {
		name:    "recovery clears the set and the next outage settles again",
		members: healthyPeer,
		steps: []step{
			{verdict: down},
			{advance: settle, want: []string{"VI_1"}},
			{advance: time.Second, verdict: up},
			{advance: time.Second},
			{advance: time.Second, verdict: down},
			{advance: settle - time.Second},
			{advance: time.Second, want: []string{"VI_1"}},
			{advance: time.Second},
		},
		wantGateway: []string{"false: gateway 10.0.0.1 down", "true: gateway 10.0.0.1 answers", "false: gateway 10.0.0.1 down"},
		wantStatus:  3,
	}, {
		name:    "gateway down for everyone: no handover",
		members: []Member{peer("n2", true, "VI_1", StateBackup, false), peer("n3", true, "VI_1", StateBackup, false)},
		steps: []step{
			{verdict: down},
			{advance: settle},
			{advance: time.Second},
			{advance: time.Minute},
		},
		wantGateway: []string{"false: gateway 10.0.0.1 down"},
		wantStatus:  3,
	}, {
		name:      "a failed handover is tried again at the next check",
		members:   healthyPeer,
		failFirst: 1,
		steps: []step{
			{verdict: down},
			{advance: settle, want: []string{"VI_1"}},
			{advance: time.Second, want: []string{"VI_1"}},
			{advance: time.Second},
		},
		wantGateway: []string{"false: gateway 10.0.0.1 down"},
		wantStatus:  3,
	}, {
		name:     "without gossip: never",
		noGossip: true,
		steps: []step{
			{verdict: down},
			{advance: settle},
			{advance: time.Minute},
		},
		wantGateway: []string{"false: gateway 10.0.0.1 down"},
	}, {
		name:    "a healthy gateway: no check",
		members: healthyPeer,
		steps: []step{
			{verdict: up},
			{advance: settle},
			{advance: time.Minute},
		},
		wantGateway: []string{"true: gateway 10.0.0.1 answers"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			eng := &fakeEngine{insts: []control.InstanceStatus{master("VI_1", "VI_1")}, failHandovers: tt.failFirst}
			arb := &fakeArbiter{}
			cfg := PolicyConfig{Node: "n1", Engine: eng, Arbiter: arb, Settle: settle, Clock: clk, Log: testLogger(t)}
			if !tt.noGossip {
				cfg.Gossip = &fakeGossip{members: tt.members}
			}
			p := NewPolicy(cfg)
			ctx := context.Background()
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				before := len(eng.handedOver())
				// As followGateway does for a verdict or a tick.
				if s.verdict != nil {
					p.setGateway(*s.verdict)
				}
				p.handOverIfBetter(ctx)
				if diff := cmp.Diff(s.want, eng.handedOver()[before:], cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("step %d (at +%s): handovers (-want +got):\n%s", i, clk.Now().Sub(t0), diff)
				}
			}
			if diff := cmp.Diff(tt.wantGateway, arb.gatewayCalls()); diff != "" {
				t.Errorf("SetGateway (-want +got):\n%s", diff)
			}
			if got := eng.statusCalls(); got != tt.wantStatus {
				t.Errorf("engine status queries: got %d, want %d", got, tt.wantStatus)
			}
		})
	}
}

func TestPolicyPublish(t *testing.T) {
	clk := clock.NewFake(t0)
	eng := &fakeEngine{insts: []control.InstanceStatus{master("VI_1", "group:G"), {Name: "VI_2", State: StateBackup, Priority: 50}}}
	gsp := &fakeGossip{}
	p := NewPolicy(PolicyConfig{Node: "n1", Engine: eng, Arbiter: &fakeArbiter{}, Gossip: gsp, Clock: clk})
	ctx := context.Background()

	p.publishOnce(ctx)
	p.setGateway(gateway.Status{Reason: "down"})
	p.publishOnce(ctx)
	eng.setErr(errors.New("engine stopped"))
	p.publishOnce(ctx) // nothing published

	want := [][]InstanceState{{
		{Name: "group:G", State: StateMaster, Priority: 100, Token: 7, GatewayOK: true},
		{Name: "VI_2", State: StateBackup, Priority: 50, GatewayOK: true},
	}, {
		{Name: "group:G", State: StateMaster, Priority: 100, Token: 7},
		{Name: "VI_2", State: StateBackup, Priority: 50},
	}}
	if diff := cmp.Diff(want, gsp.published()); diff != "" {
		t.Errorf("SetLocal calls (-want +got):\n%s", diff)
	}
}

func TestPolicyFollowView(t *testing.T) {
	gsp := &fakeGossip{members: []Member{
		{Node: "n1", Alive: true, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 3}}},
		{Node: "n2", Alive: true, Instances: []InstanceState{{Name: "VI_1", State: StateMaster, Token: 4}}},
		{Node: "n3", State: MemberDead, Instances: []InstanceState{{Name: "VI_2", State: StateMaster, Token: 9}}},
	}}
	arb := &fakeArbiter{}
	p := NewPolicy(PolicyConfig{Node: "n1", Engine: &fakeEngine{}, Arbiter: arb, Gossip: gsp, Clock: clock.NewFake(t0)})
	p.updateView()
	want := map[string][]arbiter.Holder{"VI_1": {{Node: "n2", Token: 4, State: StateMaster}}}
	if diff := cmp.Diff(want, arb.viewCalls()); diff != "" {
		t.Errorf("SetView (-want +got):\n%s", diff)
	}
}

// TestPolicyRun runs the whole task on a fake clock: a verdict reaches the
// arbiter, the settle period passes, the unit is handed over, states are
// published, a view change reaches the arbiter, and Run returns nil on
// cancel. Every wait is on an event, never on time.
func TestPolicyRun(t *testing.T) {
	const settle = 3 * time.Second
	clk := clock.NewFake(t0)
	eng := &fakeEngine{insts: []control.InstanceStatus{master("VI_1", "VI_1")}, changed: make(chan struct{}, 1)}
	arb := &fakeArbiter{changed: make(chan struct{}, 1)}
	gsp := &fakeGossip{members: []Member{peer("n1", true, "VI_1", StateMaster, false), peer("n2", true, "VI_1", StateBackup, true)},
		changes: make(chan struct{}), changed: make(chan struct{}, 1)}
	verdicts := make(chan gateway.Status, 1)
	p := NewPolicy(PolicyConfig{Node: "n1", Engine: eng, Arbiter: arb, Gossip: gsp, Gateway: verdicts,
		Settle: settle, Clock: clk, Log: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	if err := clk.BlockUntil(t.Context(), 2); err != nil {
		t.Fatal(err)
	} // the gateway check and publish tickers are armed
	verdicts <- gateway.Status{Reason: "gateway 10.0.0.1 down"}
	waitFor(arb.changed, func() bool { return len(arb.gatewayCalls()) == 1 })
	if ok, why := p.Gateway(); ok || why != "gateway 10.0.0.1 down" {
		t.Errorf("Gateway() = %v, %q; want false, the verdict's reason", ok, why)
	}

	clk.Advance(settle)
	waitFor(eng.changed, func() bool { return len(eng.handedOver()) > 0 })
	waitFor(gsp.changed, func() bool {
		pub := gsp.published()
		return len(pub) > 0 && !pub[len(pub)-1][0].GatewayOK
	})

	gsp.changes <- struct{}{}
	waitFor(arb.changed, func() bool { return len(arb.viewCalls()) > 0 })

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := clk.Waiters(); n != 0 {
		t.Errorf("%d timers still armed after Run returned", n)
	}
	if diff := cmp.Diff([]string{"VI_1"}, eng.handedOver()); diff != "" {
		t.Errorf("handovers (-want +got):\n%s", diff)
	}
}

func TestGatewaySettle(t *testing.T) {
	if got, want := GatewaySettle(3, 200*time.Millisecond), 1600*time.Millisecond; got != want {
		t.Errorf("GatewaySettle(3, 200ms) = %s, want %s", got, want)
	}
}

// waitFor blocks until cond holds, re-checking at each signal on changed.
func waitFor(changed <-chan struct{}, cond func() bool) {
	for !cond() {
		<-changed
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// fakeEngine answers Status with insts (or err) and records handovers.
type fakeEngine struct {
	changed chan struct{} // cap 1: signalled after every handover

	mu            sync.Mutex
	insts         []control.InstanceStatus
	err           error
	failHandovers int
	status        int
	handovers     []string
}

var _ Engine = (*fakeEngine)(nil)

func (e *fakeEngine) Status(context.Context) ([]control.InstanceStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status++
	if e.err != nil {
		return nil, e.err
	}
	return slices.Clone(e.insts), nil
}

func (e *fakeEngine) Handover(_ context.Context, instance, to string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer signal(e.changed)
	e.handovers = append(e.handovers, instance)
	if e.failHandovers > 0 {
		e.failHandovers--
		return fmt.Errorf("instance %s: step-down refused", instance)
	}
	return nil
}

func (e *fakeEngine) setErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err = err
}

func (e *fakeEngine) handedOver() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.handovers)
}

func (e *fakeEngine) statusCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// fakeArbiter records what the policy tells the arbiter.
type fakeArbiter struct {
	changed chan struct{} // cap 1: signalled after every call

	mu       sync.Mutex
	gateways []string
	views    map[string][]arbiter.Holder
}

var _ Arbiter = (*fakeArbiter)(nil)

func (a *fakeArbiter) SetGateway(ok bool, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gateways = append(a.gateways, fmt.Sprintf("%v: %s", ok, why))
	signal(a.changed)
}

func (a *fakeArbiter) SetView(unit string, hs []arbiter.Holder) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.views == nil {
		a.views = map[string][]arbiter.Holder{}
	}
	a.views[unit] = hs
	signal(a.changed)
}

func (a *fakeArbiter) gatewayCalls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.gateways)
}

func (a *fakeArbiter) viewCalls() map[string][]arbiter.Holder {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][]arbiter.Holder{}
	for u, hs := range a.views {
		out[u] = hs
	}
	return out
}

// fakeGossip has a fixed view and records what is published.
type fakeGossip struct {
	changes chan struct{} // the test sends view changes
	changed chan struct{} // cap 1: signalled after every SetLocal

	mu      sync.Mutex
	members []Member
	local   [][]InstanceState
}

var _ View = (*fakeGossip)(nil)

func (g *fakeGossip) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.members)
}

func (g *fakeGossip) SetLocal(insts []InstanceState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.local = append(g.local, insts)
	signal(g.changed)
}

func (g *fakeGossip) Changes() <-chan struct{} { return g.changes }

func (g *fakeGossip) published() [][]InstanceState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.local)
}
