package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/arbiter"
	"github.com/vipd/vipd/arbiter/gateway"
	"github.com/vipd/vipd/cluster"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/control"
)

// side holds the arbiter's companions: the gateway prober, the gossip
// layer and an embedded etcd member, each optional.
type side struct {
	log    *slog.Logger
	gw     *gateway.Gateway
	gossip *cluster.Gossip
	emb    *cluster.Embedded

	mu       sync.Mutex // guards gwOK, gwWhy, gwDownAt, handedOver
	gwOK     bool
	gwWhy    string
	gwDownAt time.Time
	// gwSettle is how long after losing our gateway we wait before
	// comparing with the peers: long enough for them to detect a shared
	// outage (fall × interval) and gossip it, so an outage for everyone
	// does not move the VIP.
	gwSettle time.Duration
	// handedOver remembers units handed over for the current gateway
	// outage, so a flapping view does not hand over twice.
	handedOver map[string]bool
}

// startEmbedded starts this node's embedded etcd member, if configured,
// and returns its client endpoints (the arbiter's when there is no etcd
// block). It returns once the cluster has a quorum.
func startEmbedded(ctx context.Context, ac *config.Arbiter, log *slog.Logger) (*cluster.Embedded, error) {
	e := ac.EmbeddedEtcd
	if e == nil {
		return nil, nil
	}
	log.Info("starting embedded etcd member; waiting for a quorum of its cluster", "name", e.Name, "peer", e.PeerURL)
	return cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{
		Name: e.Name, DataDir: e.DataDir, PeerURL: e.PeerURL, ClientURL: e.ClientURL,
		InitialCluster: strings.Join(e.InitialCluster, ","),
		Log:            log.With("component", "etcd"),
	})
}

// newSide builds the gateway prober and gossip of an arbiter block.
func newSide(c *config.Config, node string, log *slog.Logger) (*side, error) {
	s := &side{log: log, gwOK: true, handedOver: map[string]bool{}}
	ac := c.Arbiter
	if len(ac.Gateways) > 0 {
		ifname := ""
		if len(c.Instances) > 0 {
			ifname = c.Instances[0].Interface // ARP needs a link; the gateway is on the VRRP LAN
		}
		gw, err := gateway.New(gateway.Config{
			Targets: ac.Gateways, Interval: ac.GatewayInterval, Fall: ac.GatewayFall, Rise: ac.GatewayRise,
			Method: gateway.MethodARP, Interface: ifname,
		}, &gateway.NetProber{Method: gateway.MethodARP, Interface: ifname}, nil, log.With("component", "gateway"))
		if err != nil {
			return nil, err
		}
		s.gw = gw
		s.gwSettle = time.Duration(ac.GatewayFall)*ac.GatewayInterval + time.Second
	}
	if m := ac.Memberlist; m != nil {
		g, err := cluster.NewGossip(cluster.GossipConfig{Node: node, Bind: m.Bind, Join: m.Join, SecretFile: m.SecretFile},
			log.With("component", "gossip"))
		if err != nil {
			return nil, err
		}
		s.gossip = g
	}
	return s, nil
}

// run runs the prober and gossip and connects them to the arbiter and the
// engine until ctx ends.
func (s *side) run(ctx context.Context, d *daemon) {
	var wg sync.WaitGroup
	if s.gw != nil {
		wg.Go(func() {
			if err := s.gw.Run(ctx); err != nil {
				s.log.Error("gateway prober stopped", "err", err)
			}
		})
		wg.Go(func() { s.followGateway(ctx, d) })
	}
	if s.gossip != nil {
		wg.Go(func() {
			if err := s.gossip.Run(ctx); err != nil {
				s.log.Error("gossip stopped", "err", err)
			}
		})
		wg.Go(func() { s.publish(ctx, d) })
		wg.Go(func() { s.followView(ctx, d) })
	}
	wg.Wait()
}

func (s *side) gateway() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gwOK, s.gwWhy
}

// followGateway hands the prober's verdicts to the arbiter (a node
// without its gateway does not claim) and, while the gateway is down,
// hands held units over when a peer with a healthy gateway can take them.
func (s *side) followGateway(ctx context.Context, d *daemon) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-s.gw.Changes():
			s.mu.Lock()
			if s.gwOK && !st.Healthy {
				s.gwDownAt = time.Now()
			}
			s.gwOK, s.gwWhy = st.Healthy, st.Reason
			if st.Healthy {
				clear(s.handedOver)
			}
			s.mu.Unlock()
			d.arb.SetGateway(st.Healthy, st.Reason)
			s.log.Info("gateway", "healthy", st.Healthy, "reason", st.Reason)
		case <-tick.C:
		}
		if ok, _ := s.gateway(); !ok {
			s.handOverIfBetter(ctx, d)
		}
	}
}

// handOverIfBetter implements the gateway rule for a holder: hand over only
// when some live peer with a healthy gateway could take the unit, so a
// gateway down for everyone neither flaps nor empties the VIP.
func (s *side) handOverIfBetter(ctx context.Context, d *daemon) {
	if s.gossip == nil {
		return // without a view of the peers, keep the VIP (the safe choice)
	}
	s.mu.Lock()
	settling := time.Since(s.gwDownAt) < s.gwSettle
	s.mu.Unlock()
	if settling {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	insts, err := d.engine.Status(sctx)
	if err != nil {
		return
	}
	members := s.gossip.Members()
	for _, in := range insts {
		if in.State != "MASTER" || in.Arbiter == nil {
			continue
		}
		unit := in.Arbiter.Unit
		s.mu.Lock()
		done := s.handedOver[unit]
		s.mu.Unlock()
		if done {
			continue
		}
		var cands []arbiter.Candidate
		for _, m := range members {
			if m.Node == d.opt.node || !m.Alive {
				continue
			}
			for _, is := range m.Instances {
				if is.Name == unit {
					cands = append(cands, arbiter.Candidate{Node: m.Node, GatewayOK: is.GatewayOK, Eligible: is.State == cluster.StateBackup})
				}
			}
		}
		if !arbiter.ShouldHandOver(false, cands) {
			continue
		}
		s.log.Warn("gateway lost; handing over to a peer with a healthy gateway", "instance", in.Name)
		if err := d.engine.Handover(sctx, in.Name, ""); err != nil {
			s.log.Warn("gateway handover", "instance", in.Name, "err", err)
			continue
		}
		s.mu.Lock()
		s.handedOver[unit] = true
		s.mu.Unlock()
	}
}

// publish puts this node's instance states into gossip metadata.
func (s *side) publish(ctx context.Context, d *daemon) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		insts, err := d.engine.Status(sctx)
		cancel()
		if err != nil {
			continue
		}
		gwOK, _ := s.gateway()
		var out []cluster.InstanceState
		for _, in := range insts {
			st := cluster.InstanceState{Name: in.Name, State: in.State, Priority: in.Priority, GatewayOK: gwOK, Since: in.Last.At}
			if in.Arbiter != nil {
				st.Name = in.Arbiter.Unit
				if in.Arbiter.Granted {
					st.Token = in.Arbiter.Token
				}
			}
			out = append(out, st)
		}
		s.gossip.SetLocal(out)
	}
}

// followView gives the arbiter what gossip says about each unit: a live
// member holding a unit of ours with a newer token makes us step down.
func (s *side) followView(ctx context.Context, d *daemon) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.gossip.Changes():
		}
		view := map[string][]arbiter.Holder{}
		for _, m := range s.gossip.Members() {
			if m.Node == d.opt.node || !m.Alive {
				continue
			}
			for _, is := range m.Instances {
				view[is.Name] = append(view[is.Name], arbiter.Holder{Node: m.Node, Token: is.Token, State: is.State})
			}
		}
		for unit, hs := range view {
			d.arb.SetView(unit, hs)
		}
	}
}

// clusterView is the gossip view for `vipctl status --cluster`.
func (s *side) clusterView() []control.ClusterMember {
	if s == nil || s.gossip == nil {
		return nil
	}
	var out []control.ClusterMember
	for _, m := range s.gossip.Members() {
		cm := control.ClusterMember{Node: m.Node, Addr: m.Addr, State: m.State, Updated: m.Updated}
		for _, is := range m.Instances {
			cm.Instances = append(cm.Instances, control.ClusterInstance{Name: is.Name, State: is.State,
				Priority: is.Priority, Token: is.Token, GatewayOK: is.GatewayOK})
		}
		out = append(out, cm)
	}
	return out
}

func (s *side) String() string {
	return fmt.Sprintf("gateway=%v gossip=%v embedded_etcd=%v", s.gw != nil, s.gossip != nil, s.emb != nil)
}

// gatewayStatus is the probe's verdict for status and metrics.
func (s *side) gatewayStatus() *control.GatewayStatus {
	if s == nil || s.gw == nil {
		return nil
	}
	ok, why := s.gateway()
	return &control.GatewayStatus{Healthy: ok, Reason: why}
}
