package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/vipd/vipd/arbiter"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
)

// newArbiter builds the arbiter of an `arbiter` block; nil when there is
// none. The engine uses it directly (it implements mastership.Arbiter).
// embedded, when set, is this node's embedded etcd member: its endpoints
// serve when the block names none.
func newArbiter(c *config.Config, node string, embedded []string, log *slog.Logger) (*arbiter.Arbiter, error) {
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
	return arbiter.New(cfg, cli, clock.Real(), log.With("component", "arbiter")), nil
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
