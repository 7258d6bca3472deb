package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxDelayLoop bounds delay_loop and the checker timings.
const maxDelayLoop = 86400 * time.Second

// inherit carries checker settings written on a virtual or real server down
// to its checkers (keepalived check_data.c: VS → RS → checker).
type inherit struct {
	connectTimeout, delayBeforeRetry, warmup, delayLoop *time.Duration
	retry                                               *int
}

// keyword handles the settings a checker can inherit; it reports whether
// it knew c.
func (p *parser) inheritKeyword(h *inherit, c *node) bool {
	dur := func() *time.Duration {
		d, ok := p.secArg(c, 0, maxDelayLoop, time.Millisecond)
		if !ok {
			return nil
		}
		return &d
	}
	switch c.key() {
	case "connect_timeout":
		h.connectTimeout = dur()
	case "delay_before_retry":
		h.delayBeforeRetry = dur()
	case "warmup":
		h.warmup = dur()
	case "delay_loop":
		h.delayLoop = dur()
	case "nb_get_retry", "retry":
		if c.key() == "nb_get_retry" {
			p.warnf(c.pos, "%q is deprecated, use \"retry\"", c.key())
		}
		if v, ok := p.intArg(c, 0, 1000); ok {
			h.retry = &v
		}
	default:
		return false
	}
	return true
}

// unsupportedLB are keepalived LVS keywords vipd accepts and ignores.
var unsupportedLB = map[string]bool{
	"ops": true, "one_packet_scheduling": true, "smtp_alert": true,
	"lvs_sched_flags": true, "flag-1": true, "flag-2": true, "flag-3": true,
	"sh-port": true, "sh-fallback": true, "mh-port": true, "mh-fallback": true,
	"uthreshold": true, "lthreshold": true, "fast_recovery": true, "bind_port": true,
	"bind_if": true, "fwmark": true, "enable_regex_debug": true, "tunnel_type": true,
}

func (p *parser) virtualServer(n *node) {
	body, ok := p.body(n)
	if !ok {
		return
	}
	vs := &VirtualServer{Pos: n.pos}
	switch {
	case len(n.args) != 3:
		p.errorf(n.pos, "virtual_server needs IP PORT, fwmark N or group NAME")
		return
	case n.args[1] == "fwmark":
		v, err := strconv.ParseUint(n.args[2], 10, 32)
		if err != nil || v == 0 {
			p.errorf(n.pos, "virtual_server: invalid fwmark %q", n.args[2])
			return
		}
		vs.FWMark = uint32(v)
	case n.args[1] == "group":
		vs.Group = n.args[2]
	default:
		a, ok := p.addrVal(n, n.args[1])
		port, ok2 := p.portVal(n, n.args[2])
		if !ok || !ok2 {
			return
		}
		vs.Addr, vs.Port = a, port
	}
	vs.LBAlgo, vs.LBKind, vs.Protocol, vs.Quorum = "wlc", "NAT", "TCP", 1
	var h inherit
	var rsNodes []*node
	for _, c := range body {
		p.mark(vs, c)
		if p.inheritKeyword(&h, c) {
			continue
		}
		p.vsKeyword(vs, c, &rsNodes)
	}
	vs.DelayLoop = 60 * time.Second
	if h.delayLoop != nil {
		vs.DelayLoop = *h.delayLoop
	}
	h.delayLoop = &vs.DelayLoop
	for _, c := range rsNodes {
		p.realServer(vs, c, h)
	}
	p.serverPorts(vs)
	p.cfg.VirtualServers = append(p.cfg.VirtualServers, vs)
}

func (p *parser) vsKeyword(vs *VirtualServer, c *node, rs *[]*node) {
	switch c.key() {
	case "lb_algo", "lvs_sched":
		vs.LBAlgo, _ = p.needArg(c)
	case "lb_kind", "lvs_method":
		v, _ := p.needArg(c)
		switch up := strings.ToUpper(v); up {
		case "NAT", "DR", "TUN":
			vs.LBKind = up
		case "":
		default:
			p.errorf(c.pos, "%s %q: want NAT, DR or TUN", c.key(), v)
		}
	case "persistence_timeout":
		vs.PersistenceTimeout = 360 * time.Second // ipvsadm's default when no value is given
		if len(c.args) > 1 {
			vs.PersistenceTimeout, _ = p.secArg(c, 0, 31*24*time.Hour, time.Second)
		}
	case "persistence_granularity":
		vs.PersistenceGranularity, _ = p.addrArg(c)
	case "protocol":
		v, _ := p.needArg(c)
		switch up := strings.ToUpper(v); up {
		case "TCP", "UDP", "SCTP":
			vs.Protocol = up
		case "":
		default:
			p.errorf(c.pos, "protocol %q: want TCP, UDP or SCTP", v)
		}
	case "sorry_server":
		a, port, ok := p.serverAddr(c, "sorry_server")
		if ok {
			inhibit := vs.SorryServer != nil && vs.SorryServer.Inhibit
			vs.SorryServer = &SorryServer{Addr: a, Port: port, Inhibit: inhibit}
		}
	case "sorry_server_inhibit":
		if vs.SorryServer == nil {
			vs.SorryServer = &SorryServer{}
		}
		vs.SorryServer.Inhibit = true
	case "inhibit_on_failure":
		vs.InhibitOnFailure = p.boolArg(c)
	case "quorum":
		vs.Quorum, _ = p.intArg(c, 1, 1<<30)
	case "hysteresis":
		vs.Hysteresis, _ = p.intArg(c, 0, 1<<30)
	case "quorum_up":
		vs.QuorumUp = p.strArg(c)
	case "quorum_down":
		vs.QuorumDown = p.strArg(c)
	case "alpha":
		vs.Alpha = true
	case "omega":
		vs.Omega = true
	case "ha_suspend":
		vs.HASuspend = true
	case "snat":
		vs.SNAT = true
	case "virtualhost":
		vs.Virtualhost, _ = p.needArg(c)
	case "real_server":
		*rs = append(*rs, c)
	case "ip_family":
		v, _ := p.needArg(c)
		switch v {
		case "inet", "inet6":
			vs.IPFamily = v
		case "":
		default:
			p.errorf(c.pos, "ip_family %q: want inet or inet6", v)
		}
	case "nat_mask":
		p.warnf(c.pos, "%q is obsolete and ignored", c.key())
	default:
		if unsupportedLB[c.key()] {
			p.unsupported(c)
			return
		}
		p.unknown(c, "virtual_server")
	}
}

func (p *parser) realServer(vs *VirtualServer, n *node, h inherit) {
	body, ok := p.body(n)
	if !ok {
		return
	}
	a, port, ok := p.serverAddr(n, "real_server")
	if !ok {
		return
	}
	rs := &RealServer{Pos: n.pos, Addr: a, Port: port, Weight: 1, InhibitOnFailure: vs.InhibitOnFailure}
	var checks []*node
	for _, c := range body {
		p.mark(rs, c)
		if p.inheritKeyword(&h, c) {
			continue
		}
		switch c.key() {
		case "weight":
			rs.Weight, _ = p.intArg(c, 0, 65535)
		case "inhibit_on_failure":
			rs.InhibitOnFailure = p.boolArg(c)
		case "notify_up":
			rs.NotifyUp = p.strArg(c)
		case "notify_down":
			rs.NotifyDown = p.strArg(c)
		case CheckTCP, CheckHTTP, CheckSSL, CheckMisc, CheckDNS, CheckFile, CheckPing, CheckUDP, CheckSMTP:
			checks = append(checks, c)
		case "BFD_CHECK":
			p.unsupported(c)
		default:
			if unsupportedLB[c.key()] {
				p.unsupported(c)
				continue
			}
			p.unknown(c, "real_server")
		}
	}
	for _, c := range checks {
		rs.Checkers = append(rs.Checkers, p.checker(vs, rs, c, h)...)
	}
	vs.RealServers = append(vs.RealServers, rs)
}

func (p *parser) vsGroup(n *node) {
	name, ok := p.name(n)
	body, ok2 := p.body(n)
	if !ok || !ok2 {
		return
	}
	g := &VirtualServerGroup{Pos: n.pos, Name: name}
	for _, c := range body {
		if e, ok := p.vsGroupEntry(c); ok {
			g.Entries = append(g.Entries, e)
		}
	}
	p.cfg.VirtualServerGroups = append(p.cfg.VirtualServerGroups, g)
}

func (p *parser) vsGroupEntry(c *node) (VSGroupEntry, bool) {
	e := VSGroupEntry{Pos: c.pos}
	if c.key() == "fwmark" {
		v, err := strconv.ParseUint(c.arg(1), 10, 32)
		if err != nil || v == 0 {
			p.errorf(c.pos, "virtual_server_group: invalid fwmark %q", c.arg(1))
			return e, false
		}
		e.FWMark = uint32(v)
		return e, true
	}
	if len(c.args) != 2 {
		p.errorf(c.pos, "virtual_server_group: entry needs IP[-LAST] PORT or fwmark N")
		return e, false
	}
	first, last, hasRange := strings.Cut(c.args[0], "-")
	a, err := netip.ParseAddr(first)
	if err != nil {
		p.errorf(c.pos, "virtual_server_group: invalid address %q", c.args[0])
		return e, false
	}
	e.Addr, e.Last = a, a
	if hasRange {
		var ok bool
		e.Last, ok = rangeEnd(a, last)
		if !ok {
			p.errorf(c.pos, "virtual_server_group: invalid address range %q", c.args[0])
			return e, false
		}
	}
	port, ok := p.portVal(c, c.args[1])
	e.Port = port
	return e, ok
}

// rangeEnd replaces the last part of a (octet for IPv4, 16-bit group for
// IPv6) with last, which must not be below a's.
func rangeEnd(a netip.Addr, last string) (netip.Addr, bool) {
	b := a.As16()
	if a.Is4() {
		v, err := strconv.ParseUint(last, 10, 8)
		if err != nil || byte(v) < b[15] {
			return a, false
		}
		b[15] = byte(v)
		return netip.AddrFrom16(b).Unmap(), true
	}
	v, err := strconv.ParseUint(last, 16, 16)
	if err != nil || uint16(v) < uint16(b[14])<<8|uint16(b[15]) {
		return a, false
	}
	b[14], b[15] = byte(v>>8), byte(v)
	return netip.AddrFrom16(b), true
}

// serverAddr reads "IP [PORT]" of a real_server or sorry_server. A missing
// port, or port 0, is no port (keepalived check_data.c alloc_rs: "inet_stosockaddr
// rejects port 0"); serverPorts fills it in.
func (p *parser) serverAddr(n *node, what string) (netip.Addr, uint16, bool) {
	if len(n.args) != 2 && len(n.args) != 3 {
		p.errorf(n.pos, "%s needs IP [PORT]", what)
		return netip.Addr{}, 0, false
	}
	a, ok := p.addrVal(n, n.args[1])
	if !ok {
		return a, 0, false
	}
	if len(n.args) == 2 {
		return a, 0, true
	}
	port, ok := p.portVal(n, n.args[2])
	return a, port, ok
}

// serverPorts applies keepalived's port rules to the real and sorry
// servers of vs once it is parsed (check_data.c validate_check_config):
//   - NAT: a port-less server takes the virtual server's port; with a
//     fwmark it stays port-less (IPVS keeps the destination port).
//   - DR and TUN cannot change the port: on a fwmark service a server's
//     port is cleared, otherwise it is set to the virtual server's, with
//     a warning when one was written.
//
// A virtual_server_group keeps the ports as written (keepalived only warns).
func (p *parser) serverPorts(vs *VirtualServer) {
	if vs.Group != "" {
		return
	}
	fix := func(port *uint16, pos Pos, what string) {
		switch {
		case vs.LBKind == "NAT" && vs.FWMark == 0 && *port == 0:
			*port = vs.Port
		case vs.LBKind == "NAT":
		case vs.FWMark != 0 && *port != 0:
			p.warnf(pos, "%s: lb_kind %s on a fwmark virtual_server cannot use port %d; cleared, as keepalived does", what, vs.LBKind, *port)
			*port = 0
		case vs.FWMark == 0 && *port == 0:
			*port = vs.Port
		case vs.FWMark == 0 && *port != vs.Port:
			p.warnf(pos, "%s: lb_kind %s cannot change the port; %d reset to the virtual server's %d, as keepalived does", what, vs.LBKind, *port, vs.Port)
			*port = vs.Port
		}
	}
	for _, rs := range vs.RealServers {
		fix(&rs.Port, rs.Pos, "real_server "+rs.Addr.String())
	}
	if s := vs.SorryServer; s != nil && s.Addr.IsValid() {
		fix(&s.Port, p.posOf(vs, "sorry_server", vs.Pos), "sorry_server "+s.Addr.String())
	}
}
