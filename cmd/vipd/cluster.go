package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/arbiter/gateway"
	"github.com/vipd/vipd/cluster"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/control"
)

// side is the arbiter's companions, each optional: the gateway prober,
// the gossip layer, an embedded etcd member, and the policy task that
// connects them to the arbiter and the engine (cluster.Policy: gateway
// verdicts and handovers, publishing and following gossip). It is wiring
// only: start runs them under daemon.startArbiter's group.
type side struct {
	gw     *gateway.Gateway
	gossip *cluster.Gossip
	emb    *cluster.Embedded
	policy *cluster.Policy
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

// newSide builds the gateway prober, gossip and policy task of an arbiter
// block; the policy reads eng and tells arb.
func newSide(c *config.Config, node string, eng cluster.Engine, arb cluster.Arbiter, log *slog.Logger) (*side, error) {
	s := &side{}
	pc := cluster.PolicyConfig{Node: node, Engine: eng, Arbiter: arb, Clock: clock.Real(), Log: log}
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
		pc.Gateway = gw.Changes()
		pc.Settle = cluster.GatewaySettle(ac.GatewayFall, ac.GatewayInterval)
	}
	if m := ac.Memberlist; m != nil {
		g, err := cluster.NewGossip(cluster.GossipConfig{Node: node, Bind: m.Bind, Join: m.Join, SecretFile: m.SecretFile},
			log.With("component", "gossip"))
		if err != nil {
			return nil, err
		}
		s.gossip = g
		pc.Gossip = g
	}
	s.policy = cluster.NewPolicy(pc)
	return s, nil
}

// start runs the prober, gossip and the policy task under g until ctx
// ends. A companion that fails logs why and returns nil: it stops neither
// the arbiter nor the others.
func (s *side) start(ctx context.Context, g *errgroup.Group, log *slog.Logger) {
	if s.gw != nil {
		g.Go(func() error {
			if err := s.gw.Run(ctx); err != nil {
				log.Error("gateway prober stopped", "err", err)
			}
			return nil
		})
	}
	if s.gossip != nil {
		g.Go(func() error {
			if err := s.gossip.Run(ctx); err != nil {
				log.Error("gossip stopped", "err", err)
			}
			return nil
		})
	}
	g.Go(func() error { return s.policy.Run(ctx) })
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
	ok, why := s.policy.Gateway()
	return &control.GatewayStatus{Healthy: ok, Reason: why}
}
