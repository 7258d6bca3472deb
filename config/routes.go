package config

import (
	"net/netip"
	"strconv"
	"strings"
)

// Route is one line of virtual_routes or static_routes, in the subset of
// keepalived's `ip route` syntax vipd implements; any other option is
// refused with file:line.
type Route struct {
	Pos    Pos
	Type   string       // "" (unicast), blackhole, unreachable, prohibit or throw
	Dst    netip.Prefix // "default" is 0.0.0.0/0 (or ::/0 with an IPv6 gateway)
	Src    netip.Addr
	Via    netip.Addr
	Dev    string
	Table  int // 0: main
	Metric int
	Scope  string // host, link, global, nowhere or a number; "" for the kernel's choice
	Proto  int
	OnLink bool
	MTU    int
	// Mode is how the route meets a matching one: prepend (keepalived's
	// default, before it), add (fail if one exists) or append (after it).
	Mode string
	// Nexthops make a multipath route (nexthop ..., or keepalived's
	// deprecated "via A or B"); Via and Dev are then unused.
	Nexthops []Nexthop
}

// Nexthop is one path of a multipath route.
type Nexthop struct {
	Via    netip.Addr
	Dev    string
	Weight int // 1..256, default 1
	OnLink bool
}

// Rule is one line of virtual_rules or static_rules, in the subset of
// keepalived's `ip rule` syntax vipd implements.
type Rule struct {
	Pos      Pos
	Family   int          // 4 or 6, from the addresses (4 without any)
	From, To netip.Prefix // invalid: all
	Not      bool
	Table    int // the table to look up, or 0 with Goto
	Goto     int // a rule priority to jump to, 0 for none
	Priority int // -1: the kernel's choice
	IIF, OIF string
	Mark     uint32
	Mask     uint32 // with Mark; 0xffffffff when not given
	MarkSet  bool
	TOS      int
}

// routes parses a virtual_routes / static_routes block.
func (p *parser) routes(n *node) []Route { return blockLines(p, n, p.route) }

// blockLines parses a block of one-line entries, keeping those that parse.
func blockLines[T any](p *parser, n *node, line func(where string, c *node) (T, bool)) []T {
	body, ok := p.body(n)
	if !ok {
		return nil
	}
	var out []T
	for _, c := range body {
		if v, ok := line(n.key(), c); ok {
			out = append(out, v)
		}
	}
	return out
}

// lineArgs reads the words of one route or rule line after an option.
type lineArgs struct {
	p     *parser
	c     *node
	where string
}

// value is the word after option *i (advancing *i), or an error.
func (a lineArgs) value(i *int, opt string) (string, bool) {
	if *i+1 >= len(a.c.args) {
		a.p.errorf(a.c.pos, "%s: %s needs a value", a.where, opt)
		return "", false
	}
	*i++
	return a.c.args[*i], true
}

// number is value as an unsigned 32-bit number (C syntax: 0x, leading 0).
func (a lineArgs) number(i *int, opt string) (int, bool) {
	v, ok := a.value(i, opt)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		a.p.errorf(a.c.pos, "%s: %s %q is not a number", a.where, opt, v)
		return 0, false
	}
	return int(n), true
}

func (p *parser) route(where string, c *node) (Route, bool) {
	r := Route{Pos: c.pos, Mode: "prepend"}
	words := c.args
	args := lineArgs{p: p, c: c, where: where}
	value, number := args.value, args.number
	dstSet := false
	var nh *Nexthop // the nexthop being read: via, dev, weight and onlink are its
	for i := 0; i < len(words); i++ {
		w := words[i]
		if nh != nil {
			switch w {
			case "via", "gw":
				v, ok := value(&i, w)
				a, err := netip.ParseAddr(v)
				if !ok || err != nil {
					p.errorf(c.pos, "%s: invalid nexthop %s %q", where, w, v)
					return r, false
				}
				nh.Via = a
				continue
			case "dev":
				v, ok := value(&i, w)
				if !ok {
					return r, false
				}
				nh.Dev = v
				continue
			case "weight":
				v, ok := number(&i, w)
				if !ok || v < 1 || v > 256 {
					p.errorf(c.pos, "%s: nexthop weight must be 1..256", where)
					return r, false
				}
				nh.Weight = v
				continue
			case "onlink":
				nh.OnLink = true
				continue
			}
		}
		switch w {
		case "nexthop":
			r.Nexthops = append(r.Nexthops, Nexthop{Weight: 1})
			nh = &r.Nexthops[len(r.Nexthops)-1]
		case "or":
			// keepalived: "or" is deprecated for nexthop; via A or B is
			// a two-path route.
			v, ok := value(&i, w)
			a, err := netip.ParseAddr(v)
			if !ok || err != nil || !r.Via.IsValid() || len(r.Nexthops) > 0 {
				p.errorf(c.pos, "%s: \"or\" needs one address after a via", where)
				return r, false
			}
			p.warnf(c.pos, "%s: \"or\" for routes is deprecated, use nexthop (keepalived)", where)
			r.Nexthops = []Nexthop{{Via: r.Via, Weight: 1}, {Via: a, Weight: 1}}
			r.Via = netip.Addr{}
		case "src":
			v, ok := value(&i, w)
			if !ok {
				return r, false
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				p.errorf(c.pos, "%s: invalid src %q", where, v)
				return r, false
			}
			r.Src = a
		case "to":
			// the destination follows
		case "blackhole", "unreachable", "prohibit", "throw":
			r.Type = w
		case "via", "gw":
			v, ok := value(&i, w)
			if !ok {
				return r, false
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				p.errorf(c.pos, "%s: invalid %s %q", where, w, v)
				return r, false
			}
			r.Via = a
		case "dev":
			v, ok := value(&i, w)
			if !ok {
				return r, false
			}
			r.Dev = v
		case "table":
			v, ok := number(&i, w)
			if !ok {
				return r, false
			}
			r.Table = v
		case "metric", "priority", "preference":
			v, ok := number(&i, w)
			if !ok {
				return r, false
			}
			r.Metric = v
		case "scope":
			v, ok := value(&i, w)
			if !ok {
				return r, false
			}
			switch v {
			case "host", "link", "global", "nowhere", "site":
			default:
				if _, err := strconv.ParseUint(v, 0, 8); err != nil {
					p.errorf(c.pos, "%s: invalid scope %q", where, v)
					return r, false
				}
			}
			r.Scope = v
		case "proto", "protocol":
			v, ok := value(&i, w)
			if !ok {
				return r, false
			}
			n, known := map[string]int{"boot": 3, "static": 4, "kernel": 2, "redirect": 1}[v]
			if !known {
				u, err := strconv.ParseUint(v, 0, 8)
				if err != nil {
					p.errorf(c.pos, "%s: protocol %q: vipd takes a number or boot, static, kernel, redirect", where, v)
					return r, false
				}
				n = int(u)
			}
			r.Proto = n
		case "onlink":
			r.OnLink = true
		case "mtu":
			v, ok := number(&i, w)
			if !ok {
				return r, false
			}
			r.MTU = v
		case "add", "append", "prepend":
			r.Mode = w
		default:
			if dstSet || !looksLikeDst(w) {
				p.errorf(c.pos, "%s: %q is not supported by vipd (it implements src, to, via/gw, dev, table, metric, scope, protocol, onlink, mtu, nexthop via/dev/weight/onlink, or, blackhole/unreachable/prohibit/throw, add/append/prepend)", where, w)
				return r, false
			}
			d, ok := parseDst(w)
			if !ok {
				p.errorf(c.pos, "%s: invalid destination %q", where, w)
				return r, false
			}
			r.Dst, dstSet = d, true
		}
	}
	if !dstSet {
		p.errorf(c.pos, "%s: no destination", where)
		return r, false
	}
	if r.Dst.Bits() == 0 && r.Dst.Addr().Is4() && r.Via.Is6() {
		r.Dst = netip.MustParsePrefix("::/0") // "default via an IPv6 gateway"
	}
	if r.Via.IsValid() && r.Via.Is4() != r.Dst.Addr().Is4() {
		p.errorf(c.pos, "%s: gateway %s and destination %s are of different families", where, r.Via, r.Dst)
		return r, false
	}
	return r, true
}

func looksLikeDst(w string) bool {
	return w == "default" || strings.ContainsAny(w, ".:")
}

func parseDst(w string) (netip.Prefix, bool) {
	if w == "default" {
		return netip.MustParsePrefix("0.0.0.0/0"), true
	}
	if strings.Contains(w, "/") {
		p, err := netip.ParsePrefix(w)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(w)
	return netip.PrefixFrom(a, a.BitLen()), err == nil
}

// rules parses a virtual_rules / static_rules block.
func (p *parser) rules(n *node) []Rule { return blockLines(p, n, p.rule) }

func (p *parser) rule(where string, c *node) (Rule, bool) {
	r := Rule{Pos: c.pos, Family: 4, Priority: -1}
	words := c.args
	args := lineArgs{p: p, c: c, where: where}
	value, number := args.value, args.number
	family := 0
	prefix := func(i *int, opt string) (netip.Prefix, bool) {
		v, ok := value(i, opt)
		if !ok {
			return netip.Prefix{}, false
		}
		if v == "all" {
			return netip.Prefix{}, true
		}
		d, ok := parseDst(v)
		if !ok {
			p.errorf(c.pos, "%s: invalid %s %q", where, opt, v)
			return d, false
		}
		f := 4
		if d.Addr().Is6() {
			f = 6
		}
		if family != 0 && family != f {
			p.errorf(c.pos, "%s: from and to are of different families", where)
			return d, false
		}
		family = f
		return d, true
	}
	var ok bool
	for i := 0; i < len(words); i++ {
		switch w := words[i]; w {
		case "not":
			r.Not = true
		case "from":
			if r.From, ok = prefix(&i, w); !ok {
				return r, false
			}
		case "to":
			if r.To, ok = prefix(&i, w); !ok {
				return r, false
			}
		case "table", "lookup":
			if r.Table, ok = number(&i, w); !ok {
				return r, false
			}
		case "goto":
			if r.Goto, ok = number(&i, w); !ok {
				return r, false
			}
		case "priority", "preference", "pref":
			if r.Priority, ok = number(&i, w); !ok {
				return r, false
			}
		case "iif":
			if r.IIF, ok = value(&i, w); !ok {
				return r, false
			}
		case "oif":
			if r.OIF, ok = value(&i, w); !ok {
				return r, false
			}
		case "tos":
			if r.TOS, ok = number(&i, w); !ok {
				return r, false
			}
		case "fwmark":
			v, vok := value(&i, w)
			if !vok {
				return r, false
			}
			mark, mask, _ := strings.Cut(v, "/")
			m, err := strconv.ParseUint(mark, 0, 32)
			mk := uint64(0xffffffff)
			if err == nil && mask != "" {
				mk, err = strconv.ParseUint(mask, 0, 32)
			}
			if err != nil {
				p.errorf(c.pos, "%s: invalid fwmark %q", where, v)
				return r, false
			}
			r.Mark, r.Mask, r.MarkSet = uint32(m), uint32(mk), true
		default:
			p.errorf(c.pos, "%s: %q is not supported by vipd (it implements not, from, to, table/lookup, goto, priority/preference, iif, oif, tos, fwmark)", where, w)
			return r, false
		}
	}
	if r.Table == 0 && r.Goto == 0 {
		p.errorf(c.pos, "%s: a rule needs a table (or goto)", where)
		return r, false
	}
	if family != 0 {
		r.Family = family
	}
	return r, true
}
