package config

import (
	"net/netip"
	"strings"
	"time"
)

// unsupportedGlobal are keepalived global_defs keywords vipd accepts and
// ignores with a warning.
var unsupportedGlobal = map[string]bool{
	"vrrp_iptables": true, "vrrp_ipsets": true,
	"vrrp_no_swap": true, "checker_no_swap": true, "vrrp_priority": true,
	"checker_priority": true, "vrrp_rt_priority": true, "checker_rt_priority": true,
	"enable_traps": true, "enable_snmp_vrrp": true, "enable_snmp_checker": true,
	"dynamic_interfaces": true,
	"lvs_notify_fifo":    true, "lvs_notify_fifo_script": true, "max_auto_priority": true,
	"lvs_sync_daemon": true, "lvs_flush": true,
	"vrrp_netlink_cmd_rcv_bufs": true, "vrrp_netlink_monitor_rcv_bufs": true,
	"smtp_alert": true, "smtp_helo_name": true,
	"vrrp_garp_extra_if": true, "v3_checksum_as_v2": true,
}

func (p *parser) globalDefs(body []*node) {
	g := &p.cfg.Global
	for _, n := range body {
		p.mark(g, n)
		switch n.key() {
		case "router_id":
			g.RouterID, _ = p.needArg(n)
		case "lvs_id":
			p.warnf(n.pos, "%q is deprecated, use \"router_id\"", n.key())
			g.RouterID, _ = p.needArg(n)
		case "vrrp_version":
			g.VRRPVersion, _ = p.intArg(n, 2, 3)
		case "script_user":
			g.ScriptUser, _ = p.needArg(n)
			g.ScriptGroup = n.arg(2)
		case "enable_script_security":
			g.EnableScriptSecurity = p.boolArg(n)
		case "vrrp_strict":
			g.VRRPStrict = p.boolArg(n)
		case "default_interface":
			g.DefaultInterface, _ = p.needArg(n)
		case "vrrp_down_timer_adverts":
			g.VRRPDownTimerAdverts, _ = p.intArg(n, 1, 100)
		case "startup_script", "shutdown_script":
			sc := &g.StartupScript
			if n.key() == "shutdown_script" {
				sc = &g.ShutdownScript
			}
			if cmd, ok := p.needArg(n); ok {
				sc.Script, sc.User, sc.Group = cmd, n.arg(2), n.arg(3)
			}
		case "startup_script_timeout", "shutdown_script_timeout":
			sc := &g.StartupScript
			if n.key() == "shutdown_script_timeout" {
				sc = &g.ShutdownScript
			}
			sc.Timeout, _ = p.secArg(n, time.Second, 1000*time.Second, time.Second)
		case "vrrp_min_garp":
			g.VRRPMinGARP = p.boolArg(n)
		case "notify_fifo", "vrrp_notify_fifo":
			f := &g.NotifyFIFO
			if n.key() == "vrrp_notify_fifo" {
				f = &g.VRRPNotifyFIFO
			}
			if path, ok := p.needArg(n); ok {
				if !strings.HasPrefix(path, "/") {
					p.errorf(n.pos, "%s %q: want an absolute path", n.key(), path)
				}
				f.Pos, f.Path, f.User, f.Group = n.pos, path, n.arg(2), n.arg(3)
			}
		case "notify_fifo_script", "vrrp_notify_fifo_script":
			f := &g.NotifyFIFO
			if n.key() == "vrrp_notify_fifo_script" {
				f = &g.VRRPNotifyFIFO
			}
			if cmd, ok := p.needArg(n); ok {
				f.Script, f.ScriptUser, f.ScriptGroup = cmd, n.arg(2), n.arg(3)
			}
		case "vrrp_lower_prio_no_advert":
			g.VRRPLowerPrioNoAdvert = p.boolArg(n)
		case "vrrp_higher_prio_send_advert":
			g.VRRPHigherPrioSendAdvert = p.boolArg(n)
		case "vrrp_skip_check_adv_addr":
			g.VRRPSkipCheckAdvAddr = p.boolArg(n)
		case "vrrp_check_unicast_src":
			g.VRRPCheckUnicastSrc = p.boolArg(n)
		case "notification_email":
			if body, ok := p.body(n); ok {
				g.NotificationEmail = append(g.NotificationEmail, listItems(&node{block: body})...)
			}
		case "notification_email_from":
			g.NotificationEmailFrom, _ = p.needArg(n)
		case "smtp_server":
			g.SMTPServer = p.strArg(n)
		case "smtp_connect_timeout":
			g.SMTPConnectTimeout, _ = p.secArg(n, time.Second, time.Hour, time.Second)
		case "vrrp_startup_delay":
			g.VRRPStartupDelay, _ = p.secArg(n, 0, time.Hour, time.Millisecond)
		case "lb_dataplane":
			v, _ := p.needArg(n)
			switch v = strings.ToLower(v); v {
			case DataplaneAuto, DataplaneIPVS, DataplaneNftables:
				g.LBDataplane = v
			case "":
			default:
				p.errorf(n.pos, "lb_dataplane %q: want auto, ipvs or nftables", n.arg(1))
			}
		case "metrics_listen":
			if v, ok := p.needArg(n); ok {
				ap, err := netip.ParseAddrPort(v)
				if err != nil {
					p.errorf(n.pos, "metrics_listen: invalid ADDR:PORT %q", v)
				}
				g.MetricsListen = ap
			}
		case "vrrp_mcast_group4":
			if a, ok := p.addrArg(n); ok {
				if !a.Is4() || !a.IsMulticast() {
					p.errorf(n.pos, "vrrp_mcast_group4 %s is not an IPv4 multicast address", a)
				}
				g.VRRPMcastGroup4 = a
			}
		case "vrrp_mcast_group6":
			if a, ok := p.addrArg(n); ok {
				if !a.Is6() || !a.IsMulticast() {
					p.errorf(n.pos, "vrrp_mcast_group6 %s is not an IPv6 multicast address", a)
				}
				g.VRRPMcastGroup6 = a
			}
		default:
			if key, ok := strings.CutPrefix(n.key(), globalGARPPrefix); ok && p.garp(globalGARPFields(g), key, n) {
				continue
			}
			if unsupportedGlobal[n.key()] {
				p.unsupported(n)
				continue
			}
			p.unknown(n, "global_defs")
		}
	}
}

// globalDefaults fills what global_defs left unset (keepalived's defaults,
// include/vrrp.h and man5 global_defs).
func (p *parser) globalDefaults() {
	g := &p.cfg.Global
	set := func(kw string) bool { return p.isSet(g, kw) }
	if g.VRRPVersion == 0 {
		g.VRRPVersion = 2
	}
	// vrrp_min_garp: one gratuitous ARP/NA, no second burst and no
	// refresh, unless set explicitly (keepalived vrrp_min_garp_handler).
	if !set("vrrp_garp_master_delay") {
		g.GARPMasterDelay = 5 * time.Second
		if g.VRRPMinGARP {
			g.GARPMasterDelay = 0
		}
	}
	if g.GARPMasterRepeat == 0 {
		g.GARPMasterRepeat = 5
		if g.VRRPMinGARP {
			g.GARPMasterRepeat = 1
		}
	}
	if g.GARPMasterRefreshRepeat == 0 {
		g.GARPMasterRefreshRepeat = 1
	}
	if !set("vrrp_garp_lower_prio_delay") {
		g.GARPLowerPrioDelay = g.GARPMasterDelay
	}
	if g.GARPLowerPrioRepeat == 0 {
		g.GARPLowerPrioRepeat = g.GARPMasterRepeat
	}
	if g.SMTPConnectTimeout == 0 {
		g.SMTPConnectTimeout = 30 * time.Second
	}
	for _, sc := range []*RunScript{&g.StartupScript, &g.ShutdownScript} {
		if sc.Timeout == 0 {
			sc.Timeout = 10 * time.Second // keepalived's default
		}
	}
	if g.DefaultInterface == "" {
		g.DefaultInterface = "eth0" // keepalived's DFLT_INT
	}
	if g.LBDataplane == "" {
		g.LBDataplane = DataplaneAuto
	}
	if !g.MetricsListen.IsValid() {
		g.MetricsListen = netip.MustParseAddrPort("127.0.0.1:9650")
	}
	if !g.VRRPMcastGroup4.IsValid() {
		g.VRRPMcastGroup4 = netip.MustParseAddr("224.0.0.18")
	}
	if !g.VRRPMcastGroup6.IsValid() {
		g.VRRPMcastGroup6 = netip.MustParseAddr("ff02::12")
	}
}
