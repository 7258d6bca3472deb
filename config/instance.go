package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// unsupportedInstance are keepalived vrrp_instance keywords vipd accepts
// and ignores with a warning.
var unsupportedInstance = map[string]bool{
	"smtp_alert": true, "debug": true,
	"native_ipv6":                true,
	"notify_master_rx_lower_pri": true, "notify_deleted": true, "notify_priority_changes": true,
	"track_bfd": true, "garp_extra_if": true, "kernel_rx_buf_size": true,
	"timer_expired_backup": true, "use_vmac_addr": true,
	"vmac_xmit_base_addr": true, "linkbeat_use_polling": true,
}

func (p *parser) instance(n *node) {
	name, ok := p.name(n)
	body, ok2 := p.body(n)
	if !ok || !ok2 {
		return
	}
	in := &Instance{Pos: n.pos, Name: name}
	for _, c := range body {
		p.mark(in, c)
		p.instanceKeyword(in, c)
	}
	p.instanceDefaults(in)
	p.cfg.Instances = append(p.cfg.Instances, in)
}

func (p *parser) instanceKeyword(in *Instance, c *node) {
	switch c.key() {
	case "state":
		s, _ := p.needArg(c)
		switch up := strings.ToUpper(s); up {
		case StateMaster, StateBackup:
			in.State = up
		case "":
		default:
			p.warnf(c.pos, "unknown state %q, using BACKUP", s)
			in.State = StateBackup
		}
	case "interface":
		in.Interface, _ = p.needArg(c)
	case "virtual_router_id":
		in.VRID, _ = p.intArg(c, 1, 255)
	case "priority":
		in.Priority, in.PrioritySet = p.intArg(c, 1, 255)
	case "advert_int":
		in.AdvertInt, _ = p.secArg(c, 10*time.Millisecond, 255*time.Second, time.Millisecond)
	case "version":
		in.Version, _ = p.intArg(c, 2, 3)
	case "nopreempt":
		in.Nopreempt = true
	case "preempt":
		in.Preempt = true
	case "preempt_delay":
		in.PreemptDelay, _ = p.secArg(c, 0, 1000*time.Second, time.Millisecond)
	case "authentication":
		p.auth(in, c)
	case "virtual_ipaddress":
		in.VIPs = append(in.VIPs, p.vips(c)...)
	case "virtual_ipaddress_excluded":
		in.ExcludedVIPs = append(in.ExcludedVIPs, p.vips(c)...)
	case "virtual_routes":
		in.VirtualRoutes = append(in.VirtualRoutes, p.routes(c)...)
	case "virtual_rules":
		in.VirtualRules = append(in.VirtualRules, p.rules(c)...)
	case "mcast_src_ip":
		in.MCastSrcIP, _ = p.addrArg(c)
	case "mcast_dst_ip":
		if a, ok := p.addrArg(c); ok {
			if !a.IsMulticast() {
				p.errorf(c.pos, "mcast_dst_ip %s is not a multicast address", a)
			}
			in.MCastDstIP = a
		}
	case "unicast_src_ip":
		in.UnicastSrcIP, _ = p.addrArg(c)
	case "unicast_peer":
		p.unicastPeers(in, c)
	case "promote_secondaries":
		in.PromoteSecondaries = true
	case "unicast_fault_no_peer":
		in.UnicastFaultNoPeer = true
	case "unicast_ttl":
		in.UnicastTTL, _ = p.intArg(c, 1, 255)
	case "track_interface":
		in.TrackInterfaces = append(in.TrackInterfaces, p.trackInterfaces(c)...)
	case "track_script":
		in.TrackScripts = append(in.TrackScripts, p.trackRefs(c, 253)...)
	case "track_file":
		in.TrackFiles = append(in.TrackFiles, p.trackRefs(c, 254)...)
	case "track_process":
		in.TrackProcesses = append(in.TrackProcesses, p.trackRefs(c, 254)...)
	case "use_vmac":
		in.UseVMAC = true
		in.VMACName = c.arg(1)
		if len(in.VMACName) > 15 {
			p.errorf(c.pos, "use_vmac: interface name %q longer than 15 characters", in.VMACName)
		}
	case "vmac_xmit_base":
		in.VMACXmitBase = true
	case "dont_track_primary":
		in.DontTrackPrimary = true
	case "accept":
		in.Accept = true
	case "no_accept":
		in.Accept = false
	case "strict_mode":
		in.Strict = p.boolArg(c)
	case "notify_master":
		in.NotifyMaster = p.strArg(c)
	case "notify_backup":
		in.NotifyBackup = p.strArg(c)
	case "notify_fault":
		in.NotifyFault = p.strArg(c)
	case "notify_stop":
		in.NotifyStop = p.strArg(c)
	case "notify":
		in.Notify = p.strArg(c)
	case "lower_prio_no_advert":
		in.LowerPrioNoAdvert = p.boolArg(c)
	case "higher_prio_send_advert":
		in.HigherPrioSendAdvert = p.boolArg(c)
	case "skip_check_adv_addr":
		in.SkipCheckAdvAddr = p.boolArg(c)
	case "check_unicast_src":
		in.CheckUnicastSrc = p.boolArg(c)
	case "down_timer_adverts":
		in.DownTimerAdverts, _ = p.intArg(c, 1, 100)
	case "arbiter":
		switch v, _ := p.needArg(c); v {
		case "off":
			in.ArbiterOff = true
		case "on":
			in.ArbiterOff = false
		case "":
		default:
			p.errorf(c.pos, "arbiter %q: want on or off", v)
		}
	default:
		if p.garp(instanceGARPFields(in), c.key(), c) {
			return
		}
		if unsupportedInstance[c.key()] {
			p.unsupported(c)
			return
		}
		p.unknown(c, "vrrp_instance")
	}
}

func (p *parser) auth(in *Instance, n *node) {
	body, ok := p.body(n)
	if !ok {
		return
	}
	for _, c := range body {
		p.mark(in, c)
		switch c.key() {
		case "auth_type":
			v, _ := p.needArg(c)
			switch up := strings.ToUpper(v); up {
			case AuthPass:
				in.AuthType = up
			case AuthAH:
				// keepalived sends AH-authenticated adverts; accepting the
				// keyword while sending none would silently drop the
				// authentication its peers expect.
				p.errorf(c.pos, "auth_type AH is not supported: RFC 3768 removed IPsec AH authentication and vipd does not implement it; use auth_type PASS (VRRPv2) or none")
			case "":
			default:
				p.errorf(c.pos, "auth_type %q: want PASS", v)
			}
		case "auth_pass":
			in.AuthPass, _ = p.needArg(c)
			if len(in.AuthPass) > 8 {
				p.warnf(c.pos, "auth_pass longer than 8 characters; only the first 8 are used (the password itself is never logged)")
				in.AuthPass = in.AuthPass[:8]
			}
		default:
			p.unknown(c, "authentication")
		}
	}
}

func (p *parser) unicastPeers(in *Instance, n *node) {
	body, ok := p.body(n)
	if !ok {
		return
	}
	for _, c := range body {
		a, ok := p.addrVal(c, c.key())
		if !ok {
			continue
		}
		in.UnicastPeers = append(in.UnicastPeers, a)
		// min_ttl/max_ttl bound the TTL of that peer's adverts.
		for i := 1; i < len(c.args); i++ {
			if b, err := netip.ParseAddr(c.args[i]); err == nil {
				in.UnicastPeers = append(in.UnicastPeers, b) // "{ A B }" on one line
				continue
			}
			switch c.args[i] {
			case "min_ttl", "max_ttl":
				if i+1 >= len(c.args) {
					p.errorf(c.pos, "unicast_peer %s: %s needs a value", a, c.args[i])
					continue
				}
				v, err := strconv.Atoi(c.args[i+1])
				if err != nil || v < 0 || v > 255 {
					p.errorf(c.pos, "unicast_peer %s: %s %q: want 0..255", a, c.args[i], c.args[i+1])
				}
				if in.PeerTTL == nil {
					in.PeerTTL = map[netip.Addr][2]int{}
				}
				r, ok := in.PeerTTL[a]
				if !ok {
					r = [2]int{0, 255}
				}
				if c.args[i] == "min_ttl" {
					r[0] = v
				} else {
					r[1] = v
				}
				in.PeerTTL[a] = r
				in.CheckUnicastSrc = true // keepalived: min/max_ttl turn it on
				i++
			default:
				p.warnf(c.pos, "unicast_peer %s: unknown option %q", a, c.args[i])
			}
		}
	}
}

// instanceDefaults fills defaults and applies keepalived's corrections
// (vrrp.c vrrp_complete_instance), warning where it changes what was written.
func (p *parser) instanceDefaults(in *Instance) {
	g := &p.cfg.Global
	set := func(kw string) bool { return p.isSet(in, kw) }
	at := func(kw string) Pos { return p.posOf(in, kw, in.Pos) }

	if in.Interface == "" && !set("interface") {
		p.errorf(in.Pos, "vrrp_instance %q has no interface", in.Name)
	}
	if in.VRID == 0 && !set("virtual_router_id") {
		p.errorf(in.Pos, "vrrp_instance %q has no virtual_router_id", in.Name)
	}
	if !set("version") {
		in.Version = g.VRRPVersion
	}
	if g.VRRPStrict && !set("strict_mode") {
		in.Strict = true
	}
	// keepalived vrrp_complete_instance: a unicast keyword without peers
	// used to mean multicast; unicast_fault_no_peer makes it FAULT instead.
	if len(in.UnicastPeers) == 0 && (set("unicast_peer") || set("unicast_src_ip") || set("unicast_ttl")) {
		if in.UnicastFaultNoPeer {
			in.ConfigFault = "cannot use unicast without any peers (unicast_fault_no_peer)"
		} else {
			p.warnf(at("unicast_peer"), "a unicast keyword without any unicast_peer: vrrp_instance %q runs multicast, as keepalived does (deprecated there; unicast_fault_no_peer puts it in FAULT instead)", in.Name)
		}
	}
	for _, d := range []struct {
		kw     string
		global bool
		field  *bool
	}{
		{"lower_prio_no_advert", g.VRRPLowerPrioNoAdvert, &in.LowerPrioNoAdvert},
		{"higher_prio_send_advert", g.VRRPHigherPrioSendAdvert, &in.HigherPrioSendAdvert},
		{"skip_check_adv_addr", g.VRRPSkipCheckAdvAddr, &in.SkipCheckAdvAddr},
		{"check_unicast_src", g.VRRPCheckUnicastSrc, &in.CheckUnicastSrc},
	} {
		if d.global && !set(d.kw) {
			*d.field = true // global_defs' vrrp_<kw> is the instances' default
		}
	}
	p.instanceFamily(in)
	if in.MCastDstIP.IsValid() && in.MCastDstIP.Is4() != (in.Family == 4) {
		p.errorf(at("mcast_dst_ip"), "mcast_dst_ip %s is not of the instance's family (IPv%d)", in.MCastDstIP, in.Family)
	}

	if !in.PrioritySet {
		in.Priority = 100
		if in.State == StateMaster {
			in.Priority = 255
		}
	}
	if in.AdvertInt == 0 {
		in.AdvertInt = time.Second
	}
	if eff := in.EffectiveAdvertInt(); set("advert_int") && eff != in.AdvertInt {
		p.warnf(at("advert_int"), "advert_int %s rounded to %s for VRRPv%d", fmtSec(in.AdvertInt), eff, in.EffectiveVersion())
	}
	if in.DownTimerAdverts == 0 {
		in.DownTimerAdverts = 3
		if g.VRRPDownTimerAdverts != 0 {
			in.DownTimerAdverts = g.VRRPDownTimerAdverts // global_defs' default (keepalived)
		}
	}
	if in.UnicastTTL == 0 {
		in.UnicastTTL = 255
	}
	if in.PromoteSecondaries && in.UseVMAC {
		p.warnf(at("promote_secondaries"), "promote_secondaries is automatically set for vmacs - ignoring (keepalived)")
		in.PromoteSecondaries = false
	}
	if in.UseVMAC && in.VMACName == "" {
		in.VMACName = fmt.Sprintf("vrrp.%d", in.VRID)
	}
	if !set("accept") && !set("no_accept") {
		in.Accept = !in.Strict || in.Priority == 255
	}
	p.instancePreempt(in)
	p.instanceAuth(in)
	p.instanceStrict(in)
	p.instanceGARP(in)
}

// instanceFamily takes the family from the first VIP (else the source or
// peer addresses) and drops VIPs of the other family, as keepalived does.
func (p *parser) instanceFamily(in *Instance) {
	in.Family = 4
	switch {
	case len(in.VIPs) > 0:
		in.Family = family(in.VIPs[0].Prefix.Addr())
	case in.UnicastSrcIP.IsValid():
		in.Family = family(in.UnicastSrcIP)
	case in.MCastSrcIP.IsValid():
		in.Family = family(in.MCastSrcIP)
	case len(in.UnicastPeers) > 0:
		in.Family = family(in.UnicastPeers[0])
	}
	if len(in.VIPs) == 0 {
		if in.Strict {
			p.errorf(in.Pos, "vrrp_instance %q has no virtual_ipaddress (required by strict mode)", in.Name)
		} else {
			p.warnf(in.Pos, "vrrp_instance %q has no virtual_ipaddress", in.Name)
		}
	}
	vips := in.VIPs[:0]
	for _, v := range in.VIPs {
		if family(v.Prefix.Addr()) != in.Family {
			p.warnf(v.Pos, "virtual_ipaddress %s: address family differs from the instance's (IPv%d); ignored", v.Prefix, in.Family)
			continue
		}
		vips = append(vips, v)
	}
	in.VIPs = vips
	for _, a := range append([]netip.Addr{in.UnicastSrcIP, in.MCastSrcIP}, in.UnicastPeers...) {
		if a.IsValid() && family(a) != in.Family {
			p.errorf(in.Pos, "vrrp_instance %q: address %s is not IPv%d like its VIPs", in.Name, a, in.Family)
		}
	}
}

func family(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 4
	}
	return 6
}

func (p *parser) instancePreempt(in *Instance) {
	at := func(kw string) Pos { return p.posOf(in, kw, in.Pos) }
	if in.Nopreempt && in.State == StateMaster {
		p.warnf(at("nopreempt"), "nopreempt is ignored with state MASTER")
		in.Nopreempt = false
	}
	if in.Nopreempt && in.Priority == 255 {
		p.warnf(at("nopreempt"), "nopreempt is ignored for an address owner (priority 255)")
		in.Nopreempt = false
	}
	if in.PreemptDelay > 0 {
		reason := ""
		switch {
		case in.Nopreempt:
			reason = "nopreempt"
		case in.State == StateMaster:
			reason = "state MASTER"
		case in.Strict:
			reason = "strict mode"
		}
		if reason != "" {
			p.warnf(at("preempt_delay"), "preempt_delay is ignored with %s", reason)
			in.PreemptDelay = 0
		}
	}
}

func (p *parser) instanceAuth(in *Instance) {
	at := p.posOf(in, "authentication", in.Pos)
	if in.AuthType == "" && in.AuthPass == "" {
		return
	}
	switch {
	case in.Strict:
		p.warnf(at, "authentication is ignored in strict mode")
	case in.EffectiveVersion() == 3:
		p.warnf(at, "authentication is ignored with VRRPv3")
	case in.AuthType == "":
		p.warnf(at, "auth_pass without auth_type is ignored")
	default:
		return
	}
	in.AuthType, in.AuthPass = "", ""
}

// instanceStrict applies vrrp_strict/strict_mode (man5 vrrp_strict).
func (p *parser) instanceStrict(in *Instance) {
	if !in.Strict {
		return
	}
	at := func(kw string) Pos { return p.posOf(in, kw, in.Pos) }
	if len(in.UnicastPeers) > 0 {
		p.errorf(at("unicast_peer"), "unicast_peer is not allowed in strict mode")
	}
	if in.State == StateMaster && in.Priority != 255 {
		p.warnf(at("state"), "strict mode: state MASTER needs priority 255; using BACKUP")
		in.State = StateBackup
	}
	if in.Accept && in.EffectiveVersion() == 2 && p.isSet(in, "accept") {
		p.warnf(at("accept"), "strict mode: accept is not allowed with VRRPv2; ignored")
		in.Accept = false
	}
	if in.HigherPrioSendAdvert {
		p.warnf(at("higher_prio_send_advert"), "strict mode: higher_prio_send_advert ignored")
		in.HigherPrioSendAdvert = false
	}
	if in.VMACXmitBase {
		p.warnf(at("vmac_xmit_base"), "strict mode: vmac_xmit_base ignored")
		in.VMACXmitBase = false
	}
	if in.DownTimerAdverts != 3 {
		p.warnf(at("down_timer_adverts"), "strict mode: down_timer_adverts reset to 3")
		in.DownTimerAdverts = 3
	}
	if in.Family == 6 && len(in.VIPs) > 0 && !in.VIPs[0].Prefix.Addr().IsLinkLocalUnicast() {
		p.errorf(in.VIPs[0].Pos, "strict mode: the first IPv6 VIP must be link-local")
	}
	in.LowerPrioNoAdvert = true
}
