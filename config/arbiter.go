package config

import (
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

func (p *parser) arbiter(n *node) {
	body, ok := p.body(n)
	if !ok {
		return
	}
	if p.cfg.Arbiter != nil {
		p.errorf(n.pos, "duplicate arbiter block (first at %s)", p.cfg.Arbiter.Pos)
		return
	}
	a := &Arbiter{Pos: n.pos, OnEtcdLoss: OnEtcdLossRelease, GatewayInterval: time.Second, GatewayFall: 3, GatewayRise: 2}
	for _, c := range body {
		p.mark(a, c)
		switch c.key() {
		case "etcd":
			a.Etcd = p.etcd(c)
		case "gateway":
			p.gateway(a, c)
		case "memberlist":
			a.Memberlist = p.memberlist(c)
		case "on_etcd_loss":
			switch v, _ := p.needArg(c); v {
			case OnEtcdLossRelease:
				a.OnEtcdLoss = v
			case OnEtcdLossKeep:
				// Not offered: a partitioned master would keep its VIPs
				// while the other side claims them (vip-manager #205).
				p.errorf(c.pos, "on_etcd_loss keep is not supported: a master cut from etcd cannot know whether another node claimed the VIP, so vipd always releases (docs/safety.md)")
			case "":
			default:
				p.errorf(c.pos, "on_etcd_loss %q: want release or keep", v)
			}
		case "embedded_etcd":
			a.EmbeddedEtcd = p.embeddedEtcd(c)
		default:
			p.errorf(c.pos, "unknown keyword %q in %s (a vipd block: a typo here is an error)", c.key(), "arbiter")
		}
	}
	if a.Etcd == nil && a.EmbeddedEtcd == nil {
		p.errorf(n.pos, "arbiter needs an etcd or embedded_etcd block")
	}
	p.cfg.Arbiter = a
}

// words returns a statement's arguments plus the items of its block, for
// keywords written either "k a b" or "k { a b }".
func words(n *node) []string {
	return append(append([]string(nil), n.args[1:]...), listItems(n)...)
}

func (p *parser) checkURL(n *node, s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(n.pos, "%s: invalid URL %q, want http(s)://host:port", n.key(), s)
		return false
	}
	return true
}

func (p *parser) etcd(n *node) *Etcd {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	e := &Etcd{Pos: n.pos, LeaseTTL: 5 * time.Second, Prefix: "/vipd"}
	for _, c := range body {
		switch c.key() {
		case "endpoints":
			for _, s := range words(c) {
				if p.checkURL(c, s) {
					e.Endpoints = append(e.Endpoints, s)
				}
			}
		case "lease_ttl":
			// etcd leases count whole seconds. Below 4 s the lease leaves
			// no room for a VIP lifetime after the kernel's expiry slack
			// and the safety margin (docs/safety.md).
			if v, ok := p.intArg(c, 4, 3600); ok {
				e.LeaseTTL = time.Duration(v) * time.Second
			}
		case "prefix":
			e.Prefix, _ = p.needArg(c)
		case "username":
			e.Username, _ = p.needArg(c)
		case "password":
			e.Password, _ = p.needArg(c)
		case "tls":
			e.TLS = p.tls(c)
		default:
			p.errorf(c.pos, "unknown keyword %q in %s (a vipd block: a typo here is an error)", c.key(), "etcd")
		}
	}
	if len(e.Endpoints) == 0 {
		p.errorf(n.pos, "etcd needs endpoints")
	}
	// Credentials over plain http would be sent in clear (and the etcd
	// client would silently drop the TLS settings).
	if e.TLS != nil || e.Username != "" || e.Password != "" {
		for _, ep := range e.Endpoints {
			if strings.HasPrefix(ep, "http://") {
				p.errorf(p.posOf(e, "endpoints", n.pos), "etcd endpoint %s is plain http: tls, username and password need https:// endpoints", ep)
			}
		}
	}
	return e
}

func (p *parser) tls(n *node) *TLS {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	t := &TLS{Pos: n.pos}
	for _, c := range body {
		switch c.key() {
		case "ca":
			t.CA, _ = p.needArg(c)
		case "cert":
			t.Cert, _ = p.needArg(c)
		case "key":
			t.Key, _ = p.needArg(c)
		default:
			p.errorf(c.pos, "unknown keyword %q in %s (a vipd block: a typo here is an error)", c.key(), "tls")
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		p.errorf(n.pos, "tls needs both cert and key, or neither")
	}
	return t
}

func (p *parser) gateway(a *Arbiter, n *node) {
	addIP := func(c *node, s string) {
		if ip, ok := p.addrVal(c, s); ok {
			a.Gateways = append(a.Gateways, ip)
		}
	}
	for _, s := range n.args[1:] {
		addIP(n, s)
	}
	for _, c := range n.block {
		switch c.key() {
		case "interval":
			a.GatewayInterval, _ = p.secArg(c, 10*time.Millisecond, time.Hour, time.Millisecond)
		case "fall":
			a.GatewayFall, _ = p.intArg(c, 1, 1000)
		case "rise":
			a.GatewayRise, _ = p.intArg(c, 1, 1000)
		default:
			for _, s := range c.args {
				addIP(c, s)
			}
		}
	}
	if len(n.args) == 1 && len(n.block) == 0 {
		p.errorf(n.pos, "gateway needs at least one IP address")
	}
}

func (p *parser) memberlist(n *node) *Memberlist {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	m := &Memberlist{Pos: n.pos, Bind: netip.MustParseAddrPort("0.0.0.0:7946")}
	for _, c := range body {
		switch c.key() {
		case "bind":
			if v, ok := p.needArg(c); ok {
				ap, err := netip.ParseAddrPort(v)
				if err != nil {
					p.errorf(c.pos, "bind: invalid ADDR:PORT %q", v)
				}
				m.Bind = ap
			}
		case "join":
			for _, s := range words(c) {
				host, port, err := net.SplitHostPort(s)
				if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || host == "" {
					p.errorf(c.pos, "join: invalid HOST:PORT %q", s)
					continue
				}
				m.Join = append(m.Join, s)
			}
		case "secret_file":
			m.SecretFile, _ = p.needArg(c)
		default:
			p.errorf(c.pos, "unknown keyword %q in %s (a vipd block: a typo here is an error)", c.key(), "memberlist")
		}
	}
	return m
}

func (p *parser) embeddedEtcd(n *node) *EmbeddedEtcd {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	e := &EmbeddedEtcd{Pos: n.pos}
	for _, c := range body {
		switch c.key() {
		case "name":
			e.Name, _ = p.needArg(c)
		case "data_dir":
			e.DataDir, _ = p.needArg(c)
		case "peer_url":
			if v, ok := p.needArg(c); ok && p.checkURL(c, v) {
				e.PeerURL = v
			}
		case "client_url":
			if v, ok := p.needArg(c); ok && p.checkURL(c, v) {
				e.ClientURL = v
			}
		case "initial_cluster":
			e.InitialCluster = append(e.InitialCluster, words(c)...)
		default:
			p.errorf(c.pos, "unknown keyword %q in %s (a vipd block: a typo here is an error)", c.key(), "embedded_etcd")
		}
	}
	if e.Name == "" || e.DataDir == "" {
		p.errorf(n.pos, "embedded_etcd needs name and data_dir")
	}
	return e
}

// SameAs reports whether a and b configure the same arbiter, wherever they
// were written (nil is no arbiter block). A running arbiter cannot take a
// new configuration: a reload that changes it must be refused.
func (a *Arbiter) SameAs(b *Arbiter) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.DeepEqual(a.normalised(), b.normalised())
}

func (a *Arbiter) normalised() Arbiter {
	c := *a
	c.Pos = Pos{}
	if c.Etcd != nil {
		e := *c.Etcd
		e.Pos = Pos{}
		if e.TLS != nil {
			t := *e.TLS
			t.Pos = Pos{}
			e.TLS = &t
		}
		c.Etcd = &e
	}
	if c.Memberlist != nil {
		m := *c.Memberlist
		m.Pos = Pos{}
		c.Memberlist = &m
	}
	if c.EmbeddedEtcd != nil {
		m := *c.EmbeddedEtcd
		m.Pos = Pos{}
		c.EmbeddedEtcd = &m
	}
	return c
}
