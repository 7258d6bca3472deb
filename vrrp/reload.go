package vrrp

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/vip"
)

// reloadKey identifies "the same instance" across a reload the way
// keepalived does (vrrp_exist): by VRID, family, interface and unicast
// source, not by name, so renaming an instance keeps its state.
type reloadKey struct {
	vrid    int
	family  int
	ifname  string
	unicast bool
	src     netip.Addr
}

func reloadKeyOf(c *config.Instance) reloadKey {
	k := reloadKey{vrid: c.VRID, family: c.Family, ifname: c.Interface, unicast: len(c.UnicastPeers) > 0}
	if k.unicast {
		k.src = c.UnicastSrcIP
	}
	return k
}

// Reload applies a new configuration without disturbing what did not
// change: a matched instance keeps its state and machine, and only the
// difference in its VIPs is applied; removed instances step down
// gracefully; added ones start as a fresh instance would.
func (e *Engine) Reload(ctx context.Context, cfg *config.Config) error {
	var err error
	if derr := e.do(ctx, func(now time.Time) { err = e.reload(now, cfg) }); derr != nil {
		return derr
	}
	return err
}

func (e *Engine) reload(now time.Time, cfg *config.Config) error {
	if err := e.canRoute(cfg); err != nil {
		return err
	}
	old := map[reloadKey]*instance{}
	for _, in := range e.insts {
		old[reloadKeyOf(in.cfg)] = in
	}
	// An instance keeps running when its protocol parameters and its sync
	// group are unchanged; a group keeps running only as a whole.
	match := map[*config.Instance]*instance{}
	for _, c := range cfg.Instances {
		if in := old[reloadKeyOf(c)]; in != nil && e.sameProtocol(in, c) && groupKey(e.cfg, in.cfg) == groupKey(cfg, c) {
			match[c] = in
		}
	}
	for _, g := range cfg.SyncGroups {
		whole := true
		for _, name := range g.Members {
			if c := cfg.Instance(name); c == nil || match[c] == nil {
				whole = false
			}
		}
		if !whole {
			for _, name := range g.Members {
				if c := cfg.Instance(name); c != nil {
					delete(match, c)
				}
			}
		}
	}
	var keep, added []*instance
	for _, c := range cfg.Instances {
		if in := match[c]; in != nil {
			delete(old, reloadKeyOf(c))
			e.update(now, in, c, &cfg.Global)
			keep = append(keep, in)
			continue
		}
		l, err := e.linkFor(e.runCtx, c)
		if err != nil {
			e.log.Error("reload: instance not started", "instance", c.Name, "err", err)
			continue
		}
		in := newInstance(c, &cfg.Global, l, e.log, NewDropCounter(e.log.With("instance", c.Name), 10*time.Second))
		added = append(added, in)
	}
	// What is left in old was removed from the config (or changed so much
	// that it is a new instance): it steps down like at shutdown.
	for _, in := range e.insts {
		if old[reloadKeyOf(in.cfg)] != in {
			continue
		}
		in.log.Info("instance removed or changed by reload, stepping down")
		e.apply(now, in, in.m.Shutdown(now)) // alone: its group is rebuilt
		if e.gated(in) && in.gate.stood != 0 {
			e.opt.Arbiter.Stand(in.gate.unit, 0) // a successor with its unit stands again below
		}
		e.removeVIPs(in)
		e.opt.Notifier.Notify(in.notifyScripts(), notify.Event{Type: "INSTANCE", Name: in.cfg.Name, State: "DELETED", Priority: 0})
		in.link.insts = slices.DeleteFunc(in.link.insts, func(x *instance) bool { return x == in })
	}

	e.applyStatic(e.cfg, cfg)
	e.cfg = cfg
	e.insts = nil
	clear(e.byKey)
	for _, in := range keep {
		e.insts = append(e.insts, in)
		e.byKey[in.cfg.Name] = in
	}
	for _, in := range added {
		in.link.insts = append(in.link.insts, in)
		e.insts = append(e.insts, in)
		e.byKey[in.cfg.Name] = in
		if err := e.opt.Addrs.Remove(in.vips); err != nil {
			in.log.Warn("remove stale VIPs", "err", err)
		}
	}
	e.buildGroups(cfg)
	e.prepareArbiter()
	e.closeUnusedLinks()
	e.candDirty = true

	// Instances still waiting to start that the reload removed never will.
	e.starting = slices.DeleteFunc(e.starting, func(in *instance) bool { return e.byKey[in.cfg.Name] != in })

	// Scripts are restarted with the new config; their last results are
	// kept, so an unchanged tracker does not glitch the priority (keepalived
	// #1009 counted a weight twice across a reload).
	e.restartTrackers(cfg)
	for _, in := range keep {
		if !slices.Contains(e.starting, in) {
			e.retrack(now, in)
		}
	}
	e.startWhenLinked(now, added)
	e.syncFirewall(nil) // accept or no_accept may have changed on a holder
	return nil
}

// sameProtocol reports whether a running instance can take the new config
// in place: everything but its socket can change under a running state
// machine (Machine.Reconfigure), so only a new multicast source address —
// a different socket — makes it a new instance. (VRID, family, interface
// and the unicast source already make up the reload key.)
func (e *Engine) sameProtocol(in *instance, c *config.Instance) bool {
	return in.cfg.MCastSrcIP == c.MCastSrcIP && in.cfg.MCastDstIP == c.MCastDstIP
}

// update moves a running instance to its new config: VIP differences are
// applied to the kernel if it holds them, everything else is recomputed.
func (e *Engine) update(now time.Time, in *instance, c *config.Instance, g *config.GlobalDefs) {
	fresh := newInstanceConfig(c, g, in.link)
	oldRoutes, oldRules := in.cfg.VirtualRoutes, in.cfg.VirtualRules
	if in.holding {
		var gone []vip.Addr
		for _, v := range in.vips {
			if !slices.Contains(fresh.vips, v) {
				gone = append(gone, v)
			}
		}
		if len(gone) > 0 {
			if err := e.opt.Addrs.Remove(gone); err != nil {
				in.log.Warn("reload: remove VIPs", "err", err)
			}
		}
	}
	in.cfg, in.global = c, g
	in.log = e.log.With("instance", c.Name)
	in.vips, in.advAddrs, in.annAddrs, in.dsts = fresh.vips, fresh.advAddrs, fresh.annAddrs, fresh.dsts
	in.expect, in.trackers = fresh.expect, fresh.trackers
	in.version, in.advInt, in.lifetime = fresh.version, fresh.advInt, fresh.lifetime
	in.m.Reconfigure(now, in.params())
	if in.holding {
		// A holder's routes and rules follow the new config too.
		e.deleteVirtualRoutes(in,
			without(oldRoutes, c.VirtualRoutes, routeKey),
			without(oldRules, c.VirtualRules, func(r config.Rule) config.Rule { r.Pos = config.Pos{}; return r }))
		e.addVirtualRoutes(in)
	}
	if in.holding {
		e.installVIPs(now, in) // adds new VIPs, refreshes the rest
		in.announce(now, in.garpRepeat())
	}
}
