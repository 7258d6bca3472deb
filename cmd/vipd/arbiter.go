package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/vipd/vipd/arbiter"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/vrrp"
)

// gate adapts *arbiter.Arbiter to the engine's vrrp.Arbiter: the engine
// declares the small interface it needs and package arbiter does not know
// about VRRP.
type gate struct {
	a   *arbiter.Arbiter
	out chan vrrp.ArbiterEvent
}

var _ vrrp.Arbiter = (*gate)(nil)

func (g *gate) Claim(unit string, prio uint8) { g.a.Claim(unit, prio) }
func (g *gate) Release(unit, to string)       { g.a.ReleaseTo(unit, to) }
func (g *gate) Stand(unit string, prio uint8) { g.a.Stand(unit, prio) }
func (g *gate) Prepare(units []string) {
	g.a.ClearStale()
	for _, u := range units {
		g.a.Watch(u)
	}
}
func (g *gate) Events() <-chan vrrp.ArbiterEvent {
	return g.out
}

func (g *gate) Grant(unit string, now time.Time) (vrrp.Grant, bool) {
	gr, ok := g.a.Grant(unit, now)
	return vrrp.Grant{Token: gr.Token, ValidUntil: gr.ValidUntil, Lifetime: gr.Lifetime}, ok
}

// pump forwards the arbiter's events to the engine until ctx ends. It is
// the only sender on g.out.
func (g *gate) pump(ctx context.Context) {
	kinds := map[arbiter.EventKind]vrrp.ArbiterEventKind{
		arbiter.Granted: vrrp.ArbiterGranted, arbiter.Denied: vrrp.ArbiterDenied,
		arbiter.Revoked: vrrp.ArbiterRevoked, arbiter.Freed: vrrp.ArbiterFreed,
		arbiter.Renewed: vrrp.ArbiterRenewed,
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-g.a.Events():
			out := vrrp.ArbiterEvent{Unit: ev.Key, Kind: kinds[ev.Kind], Holder: ev.Holder, Reason: ev.Reason, Clean: ev.Clean, Target: ev.Target, Order: ev.Order,
				Conflict: ev.Kind == arbiter.Revoked && ev.Cause == arbiter.CauseConflict,
				Grant:    vrrp.Grant{Token: ev.Grant.Token, ValidUntil: ev.Grant.ValidUntil, Lifetime: ev.Grant.Lifetime}}
			select {
			case g.out <- out:
			case <-ctx.Done():
				return
			}
		}
	}
}

// newGate builds the arbiter of an `arbiter` block; nil when there is none.
// embedded, when set, is this node's embedded etcd member: its endpoints
// serve when the block names none.
func newGate(c *config.Config, node string, embedded []string, log *slog.Logger) (*gate, error) {
	ac := c.Arbiter
	if ac == nil {
		return nil, nil
	}
	etcd := ac.Etcd
	if etcd == nil {
		etcd = &config.Etcd{LeaseTTL: arbiter.DefaultLeaseTTL, Prefix: arbiter.DefaultPrefix}
	}
	cfg := arbiter.Config{
		Endpoints:  etcd.Endpoints,
		Username:   etcd.Username,
		Password:   etcd.Password,
		LeaseTTL:   etcd.LeaseTTL,
		Prefix:     etcd.Prefix,
		Node:       node,
		OnEtcdLoss: ac.OnEtcdLoss,
	}
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = embedded
	}
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("arbiter: no etcd endpoints (an etcd block with endpoints, or embedded_etcd)")
	}
	if ac.Etcd != nil && ac.Etcd.TLS != nil {
		t, err := tlsConfig(etcd.TLS)
		if err != nil {
			return nil, err
		}
		cfg.TLS = t
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cli, err := arbiter.Dial(cfg)
	if err != nil {
		return nil, err
	}
	return &gate{a: arbiter.New(cfg, cli, clock.Real(), log.With("component", "arbiter")), out: make(chan vrrp.ArbiterEvent, 64)}, nil
}

func tlsConfig(t *config.TLS) (*tls.Config, error) {
	out := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("arbiter tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("arbiter tls ca %s: no certificates", t.CA)
		}
		out.RootCAs = pool
	}
	if t.Cert != "" || t.Key != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("arbiter tls cert/key: %w", err)
		}
		out.Certificates = []tls.Certificate{cert}
	}
	return out, nil
}
