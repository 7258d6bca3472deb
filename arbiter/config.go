package arbiter

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/vrrp/vip"
)

// Defaults (SAFETY.md explains each number).
const (
	// DefaultLeaseTTL: with the 0.5 s margin and vip.ExpiryLateness
	// (1.5 s) a 5 s lease leaves a 2 s VIP lifetime right after each
	// keepalive, and still 1 s after a second of failed keepalives. 3 s
	// leaves less than the 2.5 s the kernel fence needs.
	DefaultLeaseTTL = 5 * time.Second
	DefaultPrefix   = "/vipd"
	// DefaultStartupHold covers the first gossip exchange and gateway
	// probes after a start; it is shorter than VRRP's own first
	// Master_Down_Interval, so it rarely delays anything.
	DefaultStartupHold = 2 * time.Second
	// OnEtcdLossRelease is the only policy implemented: when the lease
	// deadline passes, the grant is revoked.
	OnEtcdLossRelease = "release"
)

// Config configures an Arbiter. Zero values mean the defaults.
type Config struct {
	Endpoints          []string
	TLS                *tls.Config
	Username, Password string
	LeaseTTL           time.Duration // whole seconds; DefaultLeaseTTL
	Prefix             string        // DefaultPrefix
	Node               string        // this node's name; required
	Margin             time.Duration // DefaultMargin
	DriftRate          float64       // DefaultDriftRate
	OnEtcdLoss         string        // "release" (the default) only

	// KeepAliveEvery defaults to min(LeaseTTL/6, 500ms), so VIPs whose
	// lifetime is derived from the lease are refreshed well before the
	// kernel drops them.
	KeepAliveEvery time.Duration
	// RPCTimeout bounds every etcd request. It defaults to
	// min((TTL·(1−ρ)−m)/2, 2·KeepAliveEvery): a hung keepalive still
	// leaves time for another before the deadline.
	RPCTimeout time.Duration
	// StartupHold delays the first claim after Run starts
	// (DefaultStartupHold; negative: none).
	StartupHold time.Duration
	// Grace delays claims after a holder's key disappeared without a
	// clean release (expired or revoked): default Margin; negative: none.
	Grace time.Duration
}

func (c Config) withDefaults() Config {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	c.LeaseTTL = c.LeaseTTL.Round(time.Second)
	if c.LeaseTTL < time.Second {
		c.LeaseTTL = time.Second
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Margin <= 0 {
		c.Margin = DefaultMargin
	}
	if c.DriftRate <= 0 {
		c.DriftRate = DefaultDriftRate
	}
	if c.OnEtcdLoss == "" {
		c.OnEtcdLoss = OnEtcdLossRelease
	}
	if c.KeepAliveEvery <= 0 {
		c.KeepAliveEvery = min(c.LeaseTTL/6, 500*time.Millisecond)
	}
	if c.RPCTimeout <= 0 {
		window := NewDeadline(c.DriftRate, c.Margin).window(c.LeaseTTL)
		c.RPCTimeout = max(min(window/2, 2*c.KeepAliveEvery), 50*time.Millisecond)
	}
	switch {
	case c.StartupHold == 0:
		c.StartupHold = DefaultStartupHold
	case c.StartupHold < 0:
		c.StartupHold = 0
	}
	switch {
	case c.Grace == 0:
		c.Grace = c.Margin
	case c.Grace < 0:
		c.Grace = 0
	}
	return c
}

// Validate reports a configuration the arbiter cannot run safely.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Node == "" {
		return errors.New("arbiter: node name is required")
	}
	if c.OnEtcdLoss != OnEtcdLossRelease {
		return fmt.Errorf("arbiter: on_etcd_loss %q is not implemented (only %q is safe without peer acks)", c.OnEtcdLoss, OnEtcdLossRelease)
	}
	// Right after a keepalive that took a whole period, a VIP must still
	// be fenceable, or no grant could ever be used.
	d := NewDeadline(c.DriftRate, c.Margin)
	budget := d.window(c.LeaseTTL) - c.KeepAliveEvery
	if _, ok := vip.FenceLifetime(budget); !ok {
		return fmt.Errorf("arbiter: lease_ttl %s too short: TTL·(1−ρ) − margin − keepalive period = %s, the kernel fence needs at least %s",
			c.LeaseTTL, budget, time.Second+vip.ExpiryLateness)
	}
	return nil
}

// Dial opens an etcd client for cfg.
func Dial(cfg Config) (*clientv3.Client, error) {
	cfg = cfg.withDefaults()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		TLS:                  cfg.TLS,
		Username:             cfg.Username,
		Password:             cfg.Password,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    cfg.LeaseTTL,
		DialKeepAliveTimeout: cfg.RPCTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("arbiter: dial etcd %v: %w", cfg.Endpoints, err)
	}
	return cli, nil
}
