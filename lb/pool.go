package lb

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lb/check"
	"github.com/vipd/vipd/lb/dataplane"
)

// pool is one virtual_server and the state of its real servers. It is
// pure: statuses come in, events and the desired services come out.
type pool struct {
	vs      *config.VirtualServer
	name    string      // the virtual server as an operator reads it: "10.0.0.1:80/TCP"
	entries []vsAddress // one per kernel service (several for a virtual_server_group)
	members []*member
	quorum  bool
	liveW   int // sum of the live members' weights, kept by update
}

// vsAddress is one address the virtual server answers on.
type vsAddress struct {
	addr   netip.Addr
	port   uint16
	fwmark uint32
}

// member is one real_server.
type member struct {
	rs     *config.RealServer
	key    string         // "10.0.0.2:80"
	checks []check.Status // one per checker, in config order
	alive  bool
	weight int // effective weight when alive
}

// Event kinds.
const (
	EventRSUp       = "rs_up"
	EventRSDown     = "rs_down"
	EventQuorumUp   = "quorum_up"
	EventQuorumDown = "quorum_down"
)

// event is a change that runs a script and gets logged.
type event struct {
	kind   string
	vs     string
	rs     string // empty for quorum events
	script string // notify_up/down or quorum_up/down, may be empty
	detail string
}

// newPool builds the pool of vs; groups resolves virtual_server_group.
// resume carries checker states across a reload (nil: fresh start).
func newPool(vs *config.VirtualServer, groups []*config.VirtualServerGroup, resume map[string]check.Status) (*pool, error) {
	p := &pool{vs: vs}
	switch {
	case vs.Group != "":
		var g *config.VirtualServerGroup
		for _, x := range groups {
			if x.Name == vs.Group {
				g = x
			}
		}
		if g == nil {
			return nil, fmt.Errorf("%s: virtual_server_group %q is not defined", vs.Pos, vs.Group)
		}
		for _, e := range g.Entries {
			if e.FWMark != 0 {
				p.entries = append(p.entries, vsAddress{fwmark: e.FWMark})
				continue
			}
			for a := e.Addr; a.IsValid() && a.Compare(e.Last) <= 0; a = a.Next() {
				p.entries = append(p.entries, vsAddress{addr: a, port: e.Port})
			}
		}
		p.name = "group " + vs.Group
	case vs.FWMark != 0:
		p.entries = []vsAddress{{fwmark: vs.FWMark}}
		p.name = fmt.Sprintf("fwmark %d", vs.FWMark)
	default:
		p.entries = []vsAddress{{addr: vs.Addr, port: vs.Port}}
		p.name = fmt.Sprintf("%s/%s", netip.AddrPortFrom(vs.Addr, vs.Port), protocol(vs))
	}
	for _, rs := range vs.RealServers {
		m := &member{rs: rs, key: netip.AddrPortFrom(rs.Addr, rs.Port).String()}
		for i := range rs.Checkers {
			st, ok := resume[checkerKey(p.name, m.key, i)]
			if !ok {
				st = check.Status{Key: checkerKey(p.name, m.key, i), Up: !vs.Alpha, Detail: "initial", Weight: -1}
			}
			m.checks = append(m.checks, st)
		}
		m.weight, m.alive = check.EffectiveWeight(*rs, m.checks)
		p.members = append(p.members, m)
	}
	for _, m := range p.members {
		if m.alive {
			p.liveW += m.weight
		}
	}
	p.quorum = check.Quorum(*vs, p.liveW, true)
	return p, nil
}

// checkerKey names checker i of real server rs in virtual server vs; it
// is the key statuses are carried by across reloads.
func checkerKey(vs, rs string, i int) string { return fmt.Sprintf("%s|%s|%d", vs, rs, i) }

func protocol(vs *config.VirtualServer) string {
	if vs.Protocol == "" {
		return "TCP"
	}
	return vs.Protocol
}

// update records a checker status of member mi, checker ci. It returns
// the events (a real server going up or down, then the quorum) and whether
// the kernel table may differ: liveness, weight or quorum changed.
func (p *pool) update(mi, ci int, st check.Status) (evs []event, changed bool) {
	m := p.members[mi]
	m.checks[ci] = st
	w, alive := check.EffectiveWeight(*m.rs, m.checks)
	changed = alive != m.alive || w != m.weight
	if alive != m.alive {
		ev := event{kind: EventRSDown, vs: p.name, rs: m.key, script: m.rs.NotifyDown, detail: st.Detail}
		if alive {
			ev.kind, ev.script = EventRSUp, m.rs.NotifyUp
		}
		evs = append(evs, ev)
	}
	if m.alive {
		p.liveW -= m.weight
	}
	if alive {
		p.liveW += w
	}
	m.alive, m.weight = alive, w
	if q := check.Quorum(*p.vs, p.liveW, p.quorum); q != p.quorum {
		p.quorum, changed = q, true
		ev := event{kind: EventQuorumDown, vs: p.name, script: p.vs.QuorumDown}
		if q {
			ev.kind, ev.script = EventQuorumUp, p.vs.QuorumUp
		}
		evs = append(evs, ev)
	}
	return evs, changed
}

// hasSorry reports whether the virtual server has a sorry_server.
func (p *pool) hasSorry() bool { return p.vs.SorryServer != nil && p.vs.SorryServer.Addr.IsValid() }

// sorryFor is the sorry server of entry e (its port defaults to the
// entry's), or nil without one. sorry_server_inhibit only keeps an
// inactive sorry server in IPVS at weight 0; an active one always takes
// traffic, so the weight is 1.
func (p *pool) sorryFor(e vsAddress) *dataplane.Backend {
	if !p.hasSorry() {
		return nil
	}
	port := p.vs.SorryServer.Port
	if port == 0 {
		port = e.port
	}
	return &dataplane.Backend{Addr: p.vs.SorryServer.Addr, Port: port, Weight: 1}
}

// services returns the kernel services of the pool: keepalived's table
// for the current checker states. dev names the interface of an address
// (for device-bound planes); it may return "".
func (p *pool) services(dev func(netip.Addr) string) []dataplane.Service {
	var backends []dataplane.Backend
	if !p.quorum && p.hasSorry() {
		// ipwrapper.c: on quorum loss with a sorry server every real server
		// leaves the table and the sorry server takes their place.
		backends = nil
	} else {
		for _, m := range p.members {
			if !check.InTable(*m.rs, m.alive) {
				continue
			}
			w := 0
			if m.alive {
				w = m.weight
			}
			backends = append(backends, dataplane.Backend{Addr: m.rs.Addr, Port: m.rs.Port, Weight: w})
		}
	}
	var out []dataplane.Service
	for _, e := range p.entries {
		s := dataplane.Service{
			Name:        serviceName(e, protocol(p.vs)),
			VIP:         e.addr,
			Port:        e.port,
			FWMark:      e.fwmark,
			Proto:       strings.ToLower(protocol(p.vs)),
			Algo:        p.vs.LBAlgo,
			Kind:        p.vs.LBKind,
			Persistence: p.vs.PersistenceTimeout,
			Backends:    backends,
			SNAT:        p.vs.SNAT,
		}
		if p.vs.PersistenceGranularity.IsValid() {
			s.PersistenceMask = p.vs.PersistenceGranularity
		}
		if e.fwmark != 0 {
			// IPVS keys a fwmark service by mark and address family; the
			// unspecified address carries the family.
			s.VIP = p.unspecified()
		}
		if e.addr.IsValid() && dev != nil {
			s.Dev = dev(e.addr)
		}
		if len(backends) == 0 {
			s.Sorry = p.sorryFor(e)
		}
		out = append(out, s)
	}
	return out
}

// unspecified is 0.0.0.0 or :: for the family of the virtual server:
// ip_family, else its addresses', else its real servers' (keepalived sets
// a fwmark service's family from its first real server), else IPv4.
func (p *pool) unspecified() netip.Addr {
	v6 := p.vs.IPFamily == "inet6"
	if p.vs.IPFamily == "" {
		var first netip.Addr
		for _, e := range p.entries {
			if e.addr.IsValid() {
				first = e.addr
				break
			}
		}
		if !first.IsValid() && len(p.vs.RealServers) > 0 {
			first = p.vs.RealServers[0].Addr
		}
		v6 = first.IsValid() && first.Unmap().Is6()
	}
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// serviceName is the kernel-side name: "vs_10_0_0_1_80_tcp", "fwm_5".
func serviceName(e vsAddress, proto string) string {
	if e.fwmark != 0 {
		return fmt.Sprintf("fwm_%d", e.fwmark)
	}
	r := strings.NewReplacer(".", "_", ":", "_")
	return fmt.Sprintf("vs_%s_%d_%s", r.Replace(e.addr.String()), e.port, strings.ToLower(proto))
}

// configured returns the pool's services with every real server (and the
// sorry server) as configured, whatever their health: what a plane must
// be able to program.
func (p *pool) configured(dev func(netip.Addr) string) []dataplane.Service {
	out := p.services(dev)
	for i := range out {
		out[i].Backends = nil
		for _, m := range p.members {
			out[i].Backends = append(out[i].Backends, dataplane.Backend{Addr: m.rs.Addr, Port: m.rs.Port, Weight: m.rs.Weight})
		}
		out[i].Sorry = p.sorryFor(p.entries[i])
	}
	return out
}
