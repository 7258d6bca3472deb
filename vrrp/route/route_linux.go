// Package route installs keepalived's virtual_routes / virtual_rules (while
// an instance is master) and static_routes / static_rules (while vipd
// runs) by netlink, in the subset of `ip route` / `ip rule` the config
// package parses.
package route

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/config"
)

// Manager adds and deletes routes and rules in one network namespace.
type Manager struct {
	h *netlink.Handle
}

// New returns a Manager using h (nil: this namespace).
func New(h *netlink.Handle) (*Manager, error) {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(); err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
	}
	return &Manager{h: h}, nil
}

// Add installs routes then rules. A route that is already there counts as
// added. It goes on after a failure and returns every error.
func (m *Manager) Add(routes []config.Route, rules []config.Rule) error {
	var errs []error
	for _, r := range routes {
		nr, err := m.netlinkRoute(r)
		if err == nil {
			switch r.Mode {
			case "add":
				err = m.h.RouteAdd(nr)
			case "append":
				err = m.h.RouteAppend(nr)
			default: // prepend: NLM_F_CREATE alone, keepalived's default
				err = m.h.RouteAddEcmp(nr)
			}
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("%s: add route %s: %w", r.Pos, r.Dst, err))
		}
	}
	for _, r := range rules {
		nr, err := m.netlinkRule(r)
		if err == nil {
			err = m.h.RuleAdd(nr)
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("%s: add rule: %w", r.Pos, err))
		}
	}
	return errors.Join(errs...)
}

// Delete removes rules then routes; ones that are not there are fine (a
// step-down or a start removes what may not have been added).
func (m *Manager) Delete(routes []config.Route, rules []config.Rule) error {
	var errs []error
	for _, r := range rules {
		nr, err := m.netlinkRule(r)
		if err == nil {
			err = m.h.RuleDel(nr)
		}
		if err != nil && !notThere(err) {
			errs = append(errs, fmt.Errorf("%s: delete rule: %w", r.Pos, err))
		}
	}
	for _, r := range routes {
		nr, err := m.netlinkRoute(r)
		if err == nil {
			err = m.h.RouteDel(nr)
		}
		if err != nil && !notThere(err) {
			errs = append(errs, fmt.Errorf("%s: delete route %s: %w", r.Pos, r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

func notThere(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV)
}

var routeTypes = map[string]int{"": unix.RTN_UNICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "throw": unix.RTN_THROW}

var scopes = map[string]netlink.Scope{"host": netlink.SCOPE_HOST, "link": netlink.SCOPE_LINK,
	"global": netlink.SCOPE_UNIVERSE, "nowhere": netlink.SCOPE_NOWHERE, "site": netlink.SCOPE_SITE}

func (m *Manager) netlinkRoute(r config.Route) (*netlink.Route, error) {
	dst := &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())}
	nr := &netlink.Route{Dst: dst, Table: r.Table, Priority: r.Metric, Type: routeTypes[r.Type],
		Protocol: netlink.RouteProtocol(r.Proto), MTU: r.MTU}
	if r.Proto == 0 {
		nr.Protocol = unix.RTPROT_BOOT // what `ip route add` sets
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.OnLink {
		nr.Flags |= int(netlink.FLAG_ONLINK)
	}
	for _, h := range r.Nexthops {
		info := &netlink.NexthopInfo{Hops: h.Weight - 1}
		if h.Via.IsValid() {
			info.Gw = h.Via.AsSlice()
		}
		if h.OnLink {
			info.Flags |= int(netlink.FLAG_ONLINK)
		}
		if h.Dev != "" {
			l, err := m.h.LinkByName(h.Dev)
			if err != nil {
				return nil, fmt.Errorf("nexthop dev %s: %w", h.Dev, err)
			}
			info.LinkIndex = l.Attrs().Index
		}
		nr.MultiPath = append(nr.MultiPath, info)
	}
	if r.Dev != "" {
		l, err := m.h.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("dev %s: %w", r.Dev, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	switch {
	case r.Scope != "":
		if s, ok := scopes[r.Scope]; ok {
			nr.Scope = s
		} else {
			n, _ := strconv.ParseUint(r.Scope, 0, 8)
			nr.Scope = netlink.Scope(n)
		}
	case r.Type != "" || (!r.Via.IsValid() && r.Dev != ""):
		nr.Scope = netlink.SCOPE_LINK // as `ip route` chooses for a device route
	}
	if r.Type != "" {
		nr.Scope = netlink.SCOPE_UNIVERSE
	}
	return nr, nil
}

func (m *Manager) netlinkRule(r config.Rule) (*netlink.Rule, error) {
	nr := netlink.NewRule()
	nr.Family = unix.AF_INET
	if r.Family == 6 {
		nr.Family = unix.AF_INET6
	}
	nr.Table = r.Table
	nr.Invert = r.Not
	nr.Priority = r.Priority
	if r.Goto != 0 {
		nr.Goto = r.Goto
		nr.Table = -1
	}
	if r.From.IsValid() {
		nr.Src = &net.IPNet{IP: r.From.Addr().AsSlice(), Mask: net.CIDRMask(r.From.Bits(), r.From.Addr().BitLen())}
	}
	if r.To.IsValid() {
		nr.Dst = &net.IPNet{IP: r.To.Addr().AsSlice(), Mask: net.CIDRMask(r.To.Bits(), r.To.Addr().BitLen())}
	}
	nr.IifName, nr.OifName = r.IIF, r.OIF
	if r.MarkSet {
		nr.Mark = r.Mark
		mask := r.Mask
		nr.Mask = &mask
	}
	nr.Tos = uint(r.TOS)
	return nr, nil
}
