package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// maxScriptInterval bounds interval/timeout so a typo cannot overflow a
// time.Duration; keepalived itself only bounds them below.
const maxScriptInterval = 24 * time.Hour

func (p *parser) script(n *node) {
	name, ok := p.name(n)
	body, ok2 := p.body(n)
	if !ok || !ok2 {
		return
	}
	s := &Script{Pos: n.pos, Name: name, Rise: 1, Fall: 1, Interval: time.Second}
	for _, c := range body {
		p.mark(s, c)
		switch c.key() {
		case "script":
			s.Script = p.strArg(c)
		case "interval":
			s.Interval, _ = p.secArg(c, time.Millisecond, maxScriptInterval, time.Millisecond)
		case "timeout":
			s.Timeout, _ = p.secArg(c, time.Millisecond, maxScriptInterval, time.Millisecond)
		case "weight":
			s.Weight, _ = p.intArg(c, -253, 253)
			switch c.arg(2) {
			case "":
			case "reverse":
				s.Reverse = true
			default:
				p.errorf(c.pos, "weight: unexpected %q, want reverse", c.arg(2))
			}
		case "rise":
			s.Rise, _ = p.intArg(c, 1, 1000)
		case "fall":
			s.Fall, _ = p.intArg(c, 1, 1000)
		case "user":
			s.User, _ = p.needArg(c)
			s.Group = c.arg(2)
		case "init_fail":
			s.InitFail = true
		default:
			p.unknown(c, "vrrp_script")
		}
	}
	if s.Script == "" {
		p.errorf(n.pos, "vrrp_script %q has no script", name)
	}
	if !p.isSet(s, "timeout") {
		s.Timeout = s.Interval
	}
	p.cfg.Scripts = append(p.cfg.Scripts, s)
}

func (p *parser) trackFile(n *node) {
	name, ok := p.name(n)
	body, ok2 := p.body(n)
	if !ok || !ok2 {
		return
	}
	f := &TrackFile{Pos: n.pos, Name: name, Weight: 1, InitValue: "0"}
	for _, c := range body {
		p.mark(f, c)
		switch c.key() {
		case "file":
			f.File, _ = p.needArg(c)
		case "weight":
			f.Weight, _ = p.intArg(c, -254, 254)
			f.Reverse = c.arg(2) == "reverse"
		case "init_file":
			f.InitFile = true
			for _, a := range c.args[1:] {
				if a == "overwrite" {
					f.Overwrite = true
				} else {
					f.InitValue = a
				}
			}
		default:
			p.unknown(c, "vrrp_track_file")
		}
	}
	if f.File == "" {
		p.errorf(n.pos, "vrrp_track_file %q has no file", name)
	}
	p.cfg.TrackFiles = append(p.cfg.TrackFiles, f)
}

// trackProcess parses a vrrp_track_process block with keepalived's
// keywords and rules (vrrp_parser.c vrrp_tprocess_*).
func (p *parser) trackProcess(n *node) {
	name, ok := p.name(n)
	body, ok2 := p.body(n)
	if !ok || !ok2 {
		return
	}
	tp := &TrackProcess{Pos: n.pos, Name: name, Quorum: 1, QuorumMax: -1}
	for _, c := range body {
		p.mark(tp, c)
		switch c.key() {
		case "process":
			if v, ok := p.needArg(c); ok {
				tp.Process, tp.Params = v, c.args[2:]
				if len(tp.Params) > 0 {
					if tp.ParamMatch == "" {
						tp.ParamMatch = ParamMatchExact
					}
					tp.FullCommand = true
				}
			}
		case "param_match":
			switch c.arg(1) {
			case "":
				tp.ParamMatch = ParamMatchExact
			case "initial", "partial":
				tp.ParamMatch = c.arg(1)
			default:
				p.errorf(c.pos, "param_match %q: want initial or partial (or nothing, for exact)", c.arg(1))
			}
			tp.FullCommand = true
		case "full_command":
			tp.FullCommand = true
		case "weight":
			tp.Weight, _ = p.intArg(c, -254, 254)
			switch c.arg(2) {
			case "":
			case "reverse":
				tp.Reverse = true
			default:
				p.errorf(c.pos, "vrrp_track_process %s: unknown weight option %q", name, c.arg(2))
			}
		case "quorum":
			tp.Quorum, _ = p.intArg(c, 1, 65535)
		case "quorum_max":
			tp.QuorumMax, _ = p.intArg(c, 0, 65535)
		case "fork_delay":
			tp.ForkDelay, _ = p.secArg(c, time.Microsecond, time.Hour, time.Microsecond)
		case "terminate_delay":
			tp.TerminateDelay, _ = p.secArg(c, time.Microsecond, time.Hour, time.Microsecond)
		case "delay":
			tp.ForkDelay, _ = p.secArg(c, time.Microsecond, time.Hour, time.Microsecond)
			tp.TerminateDelay = tp.ForkDelay
		default:
			p.unknown(c, "vrrp_track_process")
		}
	}
	switch {
	case tp.Process == "":
		p.errorf(n.pos, "vrrp_track_process %q: process name not specified", name)
	case !tp.FullCommand && len(tp.Process) > 15:
		p.errorf(p.posOf(tp, "process", n.pos), "vrrp_track_process %q: process %q is longer than a process name can be (15 characters); use full_command to match the command line", name, tp.Process)
	}
	switch {
	case tp.QuorumMax == 0:
		tp.Quorum = 0 // quorum_max 0: the process must not run
	case tp.QuorumMax > 0 && tp.QuorumMax < tp.Quorum:
		p.errorf(p.posOf(tp, "quorum_max", n.pos), "vrrp_track_process %q: quorum_max %d is less than quorum %d", name, tp.QuorumMax, tp.Quorum)
	}
	p.cfg.TrackProcesses = append(p.cfg.TrackProcesses, tp)
}

func (p *parser) syncGroup(n *node) {
	name, ok := p.name(n)
	body, ok2 := p.body(n)
	if !ok || !ok2 {
		return
	}
	g := &SyncGroup{Pos: n.pos, Name: name}
	for _, c := range body {
		p.mark(g, c)
		switch c.key() {
		case "group":
			if _, ok := p.body(c); ok {
				g.Members = append(g.Members, listItems(c)...)
			}
		case "notify_master":
			g.NotifyMaster = p.strArg(c)
		case "notify_backup":
			g.NotifyBackup = p.strArg(c)
		case "notify_fault":
			g.NotifyFault = p.strArg(c)
		case "notify_stop":
			g.NotifyStop = p.strArg(c)
		case "notify":
			g.Notify = p.strArg(c)
		case "track_script":
			g.TrackScripts = append(g.TrackScripts, p.trackRefs(c, 253)...)
		case "track_file":
			g.TrackFiles = append(g.TrackFiles, p.trackRefs(c, 254)...)
		case "track_interface":
			g.TrackInterfaces = append(g.TrackInterfaces, p.trackInterfaces(c)...)
		case "track_process":
			g.TrackProcesses = append(g.TrackProcesses, p.trackRefs(c, 254)...)
		case "global_tracking":
			p.warnf(c.pos, "%q is deprecated, use \"sync_group_tracking_weight\"", c.key())
			g.GlobalTracking = true
		case "sync_group_tracking_weight":
			g.SyncGroupTrackingWeight = true
		case "smtp_alert", "notify_priority_changes":
			p.unsupported(c)
		default:
			p.unknown(c, "vrrp_sync_group")
		}
	}
	if len(g.Members) == 0 {
		p.errorf(n.pos, "vrrp_sync_group %q has no group members", name)
	}
	p.cfg.SyncGroups = append(p.cfg.SyncGroups, g)
}

// trackOpts reads "weight N [reverse]" after an entry's name.
func (p *parser) trackOpts(c *node, what string, limit int) (w int, set, rev bool) {
	for i := 1; i < len(c.args); i++ {
		switch c.args[i] {
		case "weight":
			if i+1 >= len(c.args) {
				p.errorf(c.pos, "%s %s: weight needs a value", what, c.key())
				continue
			}
			i++
			v, err := strconv.Atoi(c.args[i])
			switch {
			case err != nil:
				p.errorf(c.pos, "%s %s: invalid weight %q", what, c.key(), c.args[i])
			case v < -limit || v > limit:
				p.errorf(c.pos, "%s %s: weight %d out of range %d..%d", what, c.key(), v, -limit, limit)
			default:
				w, set = v, true
			}
		case "reverse":
			rev = true
		default:
			p.errorf(c.pos, "%s %s: unexpected %q", what, c.key(), c.args[i])
		}
	}
	return w, set, rev
}

func (p *parser) trackRefs(n *node, limit int) []TrackRef {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	var out []TrackRef
	for _, c := range body {
		if len(c.args) > 1 && c.args[1] != "weight" && c.args[1] != "reverse" {
			// "{ chk_a chk_b }" on one line: every word is a name.
			for _, a := range c.args {
				out = append(out, TrackRef{Pos: c.pos, Name: a})
			}
			continue
		}
		w, set, rev := p.trackOpts(c, n.key(), limit)
		out = append(out, TrackRef{Pos: c.pos, Name: c.key(), Weight: w, WeightSet: set, Reverse: rev})
	}
	return out
}

func (p *parser) trackInterfaces(n *node) []TrackInterface {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	var out []TrackInterface
	for _, c := range body {
		if len(c.args) > 1 && c.args[1] != "weight" && c.args[1] != "reverse" {
			for _, a := range c.args {
				out = append(out, TrackInterface{Pos: c.pos, Name: a})
			}
			continue
		}
		w, _, rev := p.trackOpts(c, n.key(), 253)
		out = append(out, TrackInterface{Pos: c.pos, Name: c.key(), Weight: w, Reverse: rev})
	}
	return out
}

// vips reads a virtual_ipaddress block: one address a line, with
// iproute2-style options.
func (p *parser) vips(n *node) []VIP {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	var out []VIP
	for _, c := range body {
		v, ok := p.vip(n.key(), c)
		if ok {
			out = append(out, v)
		}
	}
	return out
}

func (p *parser) vip(where string, c *node) (VIP, bool) {
	v := VIP{Pos: c.pos}
	s := c.key()
	var err error
	if strings.Contains(s, "/") {
		v.Prefix, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		v.Prefix = netip.PrefixFrom(a, a.BitLen())
	}
	if err != nil || v.Prefix.Addr().Zone() != "" {
		p.errorf(c.pos, "%s: invalid address %q", where, s)
		return v, false
	}
	for i := 1; i < len(c.args); i++ {
		opt := c.args[i]
		val := ""
		switch opt {
		case "dev", "label", "scope", "brd", "broadcast", "peer", "preferred_lft", "valid_lft", "metric", "table":
			if i+1 >= len(c.args) {
				p.errorf(c.pos, "%s %s: %s needs a value", where, s, opt)
				return v, false
			}
			i++
			val = c.args[i]
		}
		switch opt {
		case "dev":
			v.Dev = val
		case "label":
			v.Label = val
		case "scope":
			v.Scope = val
		case "brd", "broadcast":
			a, err := netip.ParseAddr(val)
			if err != nil {
				p.errorf(c.pos, "%s %s: invalid brd %q", where, s, val)
				return v, false
			}
			v.Brd = a
		case "no_track":
			v.NoTrack = true
		case "peer", "preferred_lft", "valid_lft", "metric", "table", "home", "nodad",
			"noprefixroute", "autojoin", "track":
			p.warnf(c.pos, "%s %s: option %q is not supported by vipd; ignored", where, s, opt)
		default:
			p.warnf(c.pos, "%s %s: unknown option %q", where, s, opt)
		}
	}
	return v, true
}
