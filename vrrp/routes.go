package vrrp

import (
	"errors"
	"fmt"
	"slices"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/vip"
)

// RouteManager installs routes and rules (package route): Add counts one
// already there as added, Delete one not there as deleted.
type RouteManager interface {
	Add(routes []config.Route, rules []config.Rule) error
	Delete(routes []config.Route, rules []config.Rule) error
}

// addVirtualRoutes installs an instance's virtual_routes and virtual_rules,
// after its VIPs (keepalived vrrp_state_become_master).
func (e *Engine) addVirtualRoutes(in *instance) {
	in.routed = true
	if e.opt.Routes == nil || (len(in.cfg.VirtualRoutes) == 0 && len(in.cfg.VirtualRules) == 0) {
		return
	}
	if err := e.opt.Routes.Add(in.cfg.VirtualRoutes, in.cfg.VirtualRules); err != nil {
		in.log.Error("virtual_routes/virtual_rules", "err", err)
	}
}

// deleteVirtualRoutes removes them, before the VIPs they may use.
func (e *Engine) deleteVirtualRoutes(in *instance, routes []config.Route, rules []config.Rule) {
	in.routed = false
	if e.opt.Routes == nil || (len(routes) == 0 && len(rules) == 0) {
		return
	}
	if err := e.opt.Routes.Delete(routes, rules); err != nil {
		in.log.Warn("remove virtual_routes/virtual_rules", "err", err)
	}
}

// applyStatic moves the static addresses, routes and rules from old's to
// cfg's (nil old: at start; nil cfg: at exit): what left is removed, what
// is new is added, what stays is untouched.
func (e *Engine) applyStatic(old, cfg *config.Config) {
	var oldAddrs, newAddrs []config.VIP
	var oldIf, newIf string
	var oldRoutes, newRoutes []config.Route
	var oldRules, newRules []config.Rule
	if old != nil {
		oldAddrs, oldRoutes, oldRules, oldIf = old.StaticAddresses, old.StaticRoutes, old.StaticRules, old.Global.DefaultInterface
	}
	if cfg != nil {
		newAddrs, newRoutes, newRules, newIf = cfg.StaticAddresses, cfg.StaticRoutes, cfg.StaticRules, cfg.Global.DefaultInterface
	}
	goneRoutes := without(oldRoutes, newRoutes, routeKey)
	goneRules := without(oldRules, newRules, func(r config.Rule) config.Rule { r.Pos = config.Pos{}; return r })
	if e.opt.Routes != nil && (len(goneRoutes) > 0 || len(goneRules) > 0) {
		if err := e.opt.Routes.Delete(goneRoutes, goneRules); err != nil {
			e.log.Warn("remove static_routes/static_rules", "err", err)
		}
	}
	if gone := staticVIPs(without(oldAddrs, newAddrs, vipKey), oldIf); len(gone) > 0 {
		if err := e.opt.Addrs.Remove(gone); err != nil {
			e.log.Warn("remove static_ipaddress", "err", err)
		}
	}
	if add := staticVIPs(newAddrs, newIf); len(add) > 0 {
		if err := e.opt.Addrs.Apply(add, 0); err != nil { // 0: permanent
			e.log.Error("static_ipaddress", "err", err)
		}
	}
	if e.opt.Routes != nil && (len(newRoutes) > 0 || len(newRules) > 0) {
		if err := e.opt.Routes.Add(newRoutes, newRules); err != nil {
			e.log.Error("static_routes/static_rules", "err", err)
		}
	}
}

func vipKey(v config.VIP) config.VIP { v.Pos = config.Pos{}; return v }

// staticVIPs converts static addresses; one without dev goes on
// default_interface (keepalived's default eth0).
func staticVIPs(vs []config.VIP, defaultIf string) []vip.Addr {
	var out []vip.Addr
	for _, v := range vs {
		out = append(out, vipAddr(v, defaultIf))
	}
	return out
}

// without returns the items of old that are not in cur, compared by key.
func without[T any, K comparable](old, cur []T, key func(T) K) []T {
	var out []T
	for _, o := range old {
		if !slices.ContainsFunc(cur, func(c T) bool { return key(c) == key(o) }) {
			out = append(out, o)
		}
	}
	return out
}

// canRoute refuses a configuration with routes or rules when the engine
// has no way to install them: they would silently do nothing.
func (e *Engine) canRoute(cfg *config.Config) error {
	if e.opt.Routes != nil {
		return nil
	}
	n := len(cfg.StaticRoutes) + len(cfg.StaticRules)
	for _, in := range cfg.Instances {
		n += len(in.VirtualRoutes) + len(in.VirtualRules)
	}
	if n > 0 {
		return errors.New("routes or rules are configured but this engine cannot install them")
	}
	return nil
}

// routeKey identifies a route wherever it was written.
func routeKey(r config.Route) string {
	r.Pos = config.Pos{}
	return fmt.Sprintf("%+v", r)
}
