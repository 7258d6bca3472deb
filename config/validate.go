package config

import (
	"fmt"
	"net/netip"
	"slices"
)

// validate checks what spans blocks: names, references and VRID clashes.
func (p *parser) validate() {
	c := p.cfg
	dupNames(p, "vrrp_script", c.Scripts, func(s *Script) (string, Pos) { return s.Name, s.Pos })
	dupNames(p, "vrrp_track_file", c.TrackFiles, func(f *TrackFile) (string, Pos) { return f.Name, f.Pos })
	dupNames(p, "vrrp_track_process", c.TrackProcesses, func(t *TrackProcess) (string, Pos) { return t.Name, t.Pos })
	dupNames(p, "vrrp_sync_group", c.SyncGroups, func(g *SyncGroup) (string, Pos) { return g.Name, g.Pos })
	dupNames(p, "vrrp_instance", c.Instances, func(in *Instance) (string, Pos) { return in.Name, in.Pos })
	dupNames(p, "virtual_server_group", c.VirtualServerGroups, func(g *VirtualServerGroup) (string, Pos) { return g.Name, g.Pos })

	for _, in := range c.Instances {
		p.resolveTracks(in.TrackScripts, in.TrackFiles)
		p.resolveProcesses(in.TrackProcesses)
	}
	for _, g := range c.SyncGroups {
		p.resolveTracks(g.TrackScripts, g.TrackFiles)
		p.resolveProcesses(g.TrackProcesses)
		p.syncMembers(g)
	}
	p.trackingRules()
	p.vridClashes()
	for _, vs := range c.VirtualServers {
		if vs.Group != "" && c.VirtualServerGroup(vs.Group) == nil {
			p.errorf(vs.Pos, "virtual_server group %q is not a defined virtual_server_group", vs.Group)
		}
		for _, rs := range vs.RealServers {
			for _, ck := range rs.Checkers {
				if ck.Kind == CheckSSL {
					ck.SSL = c.SSL
				}
				if ck.Kind != CheckFile || ck.FileName == "" {
					continue
				}
				tf := c.TrackFile(ck.FileName)
				if tf == nil {
					p.errorf(p.posOf(ck, "track_file", ck.Pos), "FILE_CHECK track_file %q is not a defined vrrp_track_file", ck.FileName)
					continue
				}
				ck.FilePath = tf.File
				if !p.isSet(ck, "weight") {
					ck.FileWeight, ck.FileReverse = tf.Weight, tf.Reverse
				}
			}
		}
	}
}

func dupNames[T any](p *parser, kind string, items []T, key func(T) (string, Pos)) {
	first := map[string]Pos{}
	for _, it := range items {
		name, pos := key(it)
		if prev, ok := first[name]; ok {
			p.errorf(pos, "duplicate %s %q (first at %s)", kind, name, prev)
			continue
		}
		first[name] = pos
	}
}

// resolveTracks checks that tracked scripts and files exist, and gives an
// entry without its own weight the weight (and direction) of the script or
// file, as keepalived does.
func (p *parser) resolveTracks(scripts, files []TrackRef) {
	p.resolveRefs(scripts, "track_script", "vrrp_script", func(name string) (int, bool, bool) {
		if s := p.cfg.Script(name); s != nil {
			return s.Weight, s.Reverse, true
		}
		return 0, false, false
	})
	p.resolveRefs(files, "track_file", "vrrp_track_file", func(name string) (int, bool, bool) {
		if f := p.cfg.TrackFile(name); f != nil {
			return f.Weight, f.Reverse, true
		}
		return 0, false, false
	})
}

// resolveProcesses does the same for tracked processes.
func (p *parser) resolveProcesses(refs []TrackRef) {
	p.resolveRefs(refs, "track_process", "vrrp_track_process", func(name string) (int, bool, bool) {
		if t := p.cfg.TrackProcess(name); t != nil {
			return t.Weight, t.Reverse, true
		}
		return 0, false, false
	})
}

// resolveRefs checks each ref names something defined (lookup) and gives
// one without its own weight the definition's weight and direction.
func (p *parser) resolveRefs(refs []TrackRef, kw, block string, lookup func(name string) (weight int, reverse, ok bool)) {
	for i := range refs {
		r := &refs[i]
		w, rev, ok := lookup(r.Name)
		if !ok {
			p.errorf(r.Pos, "%s %q is not a defined %s", kw, r.Name, block)
			continue
		}
		if !r.WeightSet {
			r.Weight = w
			r.Reverse = r.Reverse != rev
		}
	}
}

func (p *parser) syncMembers(g *SyncGroup) {
	at := p.posOf(g, "group", g.Pos)
	for _, m := range g.Members {
		in := p.cfg.Instance(m)
		switch {
		case in == nil:
			p.errorf(at, "vrrp_sync_group %q: %q is not a defined vrrp_instance", g.Name, m)
		case in.SyncGroup != "" && in.SyncGroup != g.Name:
			p.errorf(at, "vrrp_sync_group %q: vrrp_instance %q is already in vrrp_sync_group %q", g.Name, m, in.SyncGroup)
		default:
			in.SyncGroup = g.Name
		}
	}
}

// trackingRules applies keepalived's rules for weighted trackers that
// cannot move a priority (vrrp.c vrrp_complete_instance and
// sync_group_tracking_init), with its warnings:
//   - a member of a sync group without sync_group_tracking_weight, and an
//     address owner, lose their weighted trackers: a weighted interface
//     becomes unweighted (a fault when down) in a sync group and is not
//     tracked by an owner; a weighted script is not tracked; a file with
//     the default weight 1 becomes unweighted, any other weight is not
//     tracked;
//   - the sync group's own trackers then apply to every member, with their
//     weights, except when a member is an address owner (weights cleared).
func (p *parser) trackingRules() {
	for _, in := range p.cfg.Instances {
		g := p.cfg.SyncGroup(in.SyncGroup)
		syncNoWeight := g != nil && !g.SyncGroupTrackingWeight && !g.GlobalTracking
		owner := in.Priority == 255
		if !syncNoWeight && !owner {
			continue
		}
		why := "address owner (priority 255)"
		if syncNoWeight {
			why = fmt.Sprintf("vrrp_sync_group %q without sync_group_tracking_weight", g.Name)
		}
		in.TrackInterfaces = slices.DeleteFunc(in.TrackInterfaces, func(t TrackInterface) bool {
			if t.Weight == 0 {
				return false
			}
			if syncNoWeight {
				p.warnf(t.Pos, "track_interface %s: weight %d ignored in %s; it is tracked unweighted (FAULT when down)", t.Name, t.Weight, why)
				return false // its weight is cleared below
			}
			p.warnf(t.Pos, "track_interface %s: weighted, not tracked by an %s", t.Name, why)
			return true
		})
		for i := range in.TrackInterfaces {
			if syncNoWeight {
				in.TrackInterfaces[i].Weight = 0
			}
		}
		in.TrackScripts = slices.DeleteFunc(in.TrackScripts, func(r TrackRef) bool {
			if r.Weight == 0 {
				return false
			}
			p.warnf(r.Pos, "track_script %q: weighted (%d), not tracked by %s", r.Name, r.Weight, why)
			return true
		})
		in.TrackFiles = slices.DeleteFunc(in.TrackFiles, func(r TrackRef) bool {
			if r.Weight == 0 {
				return false
			}
			if r.Weight == 1 {
				p.warnf(r.Pos, "track_file %q: default weight ignored for %s; tracked unweighted (specify weight 0)", r.Name, why)
				return false
			}
			p.warnf(r.Pos, "track_file %q: weighted (%d), not tracked by %s", r.Name, r.Weight, why)
			return true
		})
		for i := range in.TrackFiles {
			in.TrackFiles[i].Weight = 0
		}
	}
	for _, g := range p.cfg.SyncGroups {
		hasOwner := false
		for _, m := range g.Members {
			if in := p.cfg.Instance(m); in != nil && in.Priority == 255 {
				hasOwner = true
			}
		}
		if hasOwner {
			unweigh := func(kw string, refs []TrackRef) {
				for i := range refs {
					if r := &refs[i]; r.Weight != 0 {
						p.warnf(r.Pos, "vrrp_sync_group %q: %s %q weight %d cleared: a member has priority 255", g.Name, kw, r.Name, r.Weight)
						r.Weight = 0
					}
				}
			}
			unweigh("track_script", g.TrackScripts)
			unweigh("track_file", g.TrackFiles)
			unweigh("track_process", g.TrackProcesses)
			for i := range g.TrackInterfaces {
				if t := &g.TrackInterfaces[i]; t.Weight != 0 {
					p.warnf(t.Pos, "vrrp_sync_group %q: track_interface %s weight %d cleared: a member has priority 255", g.Name, t.Name, t.Weight)
					t.Weight = 0
				}
			}
		}
		for _, m := range g.Members {
			in := p.cfg.Instance(m)
			if in == nil || in.SyncGroup != g.Name {
				continue
			}
			in.TrackScripts = append(in.TrackScripts, g.TrackScripts...)
			in.TrackFiles = append(in.TrackFiles, g.TrackFiles...)
			in.TrackInterfaces = append(in.TrackInterfaces, g.TrackInterfaces...)
			in.TrackProcesses = append(in.TrackProcesses, g.TrackProcesses...)
		}
	}
}

// vridClashes rejects two instances with the same VRID on the same
// interface and family; unicast instances may share one when their peer
// sets do not overlap (man5 unicast_peer).
func (p *parser) vridClashes() {
	ins := p.cfg.Instances
	for j, b := range ins {
		for _, a := range ins[:j] {
			if a.VRID == 0 || a.VRID != b.VRID || a.Interface != b.Interface || a.Family != b.Family {
				continue
			}
			if len(a.UnicastPeers) > 0 && len(b.UnicastPeers) > 0 &&
				!slices.ContainsFunc(a.UnicastPeers, func(x netip.Addr) bool { return slices.Contains(b.UnicastPeers, x) }) {
				continue
			}
			p.errorf(p.posOf(b, "virtual_router_id", b.Pos), "virtual_router_id %d on %s (IPv%d) already used by vrrp_instance %q at %s",
				b.VRID, b.Interface, b.Family, a.Name, p.posOf(a, "virtual_router_id", a.Pos))
			break
		}
	}
}
