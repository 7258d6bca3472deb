package ipvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// opKind is one IPVS command.
type opKind int

const (
	opNewService opKind = iota
	opUpdateService
	opDelService
	opNewDest
	opUpdateDest
	opDelDest
)

func (k opKind) String() string {
	return [...]string{"new-service", "update-service", "del-service", "new-dest", "update-dest", "del-dest"}[k]
}

// op is one command for the kernel: Svc addresses the service (and is the
// whole desired service for new/update), Dest the real server.
type op struct {
	Kind opKind
	Svc  svcSpec
	Dest destSpec
}

// String is the op as tests and logs show it, e.g.
// "new-dest tcp:10.0.0.1:80 10.0.0.11:8080 masq weight=1".
func (o op) String() string {
	k := o.Svc.Key
	switch o.Kind {
	case opNewService, opUpdateService:
		s := o.Svc
		return fmt.Sprintf("%s %s sched=%s flags=%#x timeout=%d mask=%s", o.Kind, k, s.Sched, s.Flags&^flagHashed, s.Timeout, maskString(s.Netmask, k.V6))
	case opDelService:
		return fmt.Sprintf("%s %s", o.Kind, k)
	case opDelDest:
		return fmt.Sprintf("%s %s %s", o.Kind, k, netip.AddrPortFrom(o.Dest.Addr, o.Dest.Port))
	}
	return fmt.Sprintf("%s %s %s %s weight=%d", o.Kind, k, netip.AddrPortFrom(o.Dest.Addr, o.Dest.Port), fwdName(o.Dest.Fwd), o.Dest.Weight)
}

func fwdName(f uint32) string {
	switch f & fwdMask {
	case fwdMasq:
		return "masq"
	case fwdLocal:
		return "local"
	case fwdTunnel:
		return "tunnel"
	case fwdRoute:
		return "route"
	}
	return fmt.Sprintf("fwd%d", f&fwdMask)
}

// diff returns the commands that turn current (the services the plane owns,
// as the kernel holds them) into desired, touching nothing that is already
// right. Per desired service, in desired's order: the service is created
// or updated, then real servers are added and updated before the stale
// ones are deleted, so that a service never passes through an empty state
// it is not meant to have (when the quorum is lost the sorry server comes
// in before the real servers leave, as in keepalived's ipwrapper.c; when
// it is regained the real servers come back before the sorry server
// leaves). Services no longer desired are deleted last, in key order, with
// their real servers (the kernel deletes those with the service).
func diff(current, desired []svcSpec) []op {
	cur := make(map[svcKey]svcSpec, len(current))
	for _, c := range current {
		cur[c.Key] = c
	}
	var ops []op
	want := make(map[svcKey]bool, len(desired))
	for _, d := range desired {
		want[d.Key] = true
		c, ok := cur[d.Key]
		if !ok {
			ops = append(ops, op{Kind: opNewService, Svc: d})
			for _, dst := range d.Dests {
				ops = append(ops, op{Kind: opNewDest, Svc: d, Dest: dst})
			}
			continue
		}
		if !sameService(c, d) {
			ops = append(ops, op{Kind: opUpdateService, Svc: d})
		}
		have := make(map[netip.AddrPort]destSpec, len(c.Dests))
		for _, dst := range c.Dests {
			have[destKey(dst)] = dst
		}
		keep := make(map[netip.AddrPort]bool, len(d.Dests))
		for _, dst := range d.Dests {
			keep[destKey(dst)] = true
			h, ok := have[destKey(dst)]
			switch {
			case !ok:
				ops = append(ops, op{Kind: opNewDest, Svc: d, Dest: dst})
			case h.Weight != dst.Weight || h.Fwd&fwdMask != dst.Fwd:
				ops = append(ops, op{Kind: opUpdateDest, Svc: d, Dest: dst})
			}
		}
		for _, dst := range sortedDests(c.Dests) {
			if !keep[destKey(dst)] {
				ops = append(ops, op{Kind: opDelDest, Svc: d, Dest: dst})
			}
		}
	}
	var stale []svcSpec
	for _, c := range current {
		if !want[c.Key] {
			stale = append(stale, c)
		}
	}
	slices.SortFunc(stale, func(a, b svcSpec) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	for _, c := range stale {
		ops = append(ops, op{Kind: opDelService, Svc: c})
	}
	return ops
}

func destKey(d destSpec) netip.AddrPort { return netip.AddrPortFrom(d.Addr, d.Port) }

func sortedDests(ds []destSpec) []destSpec {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b destSpec) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
	})
	return ds
}
