package config

import "time"

// garpFields points at the gratuitous ARP / unsolicited NA settings that
// GlobalDefs and Instance both carry, under the same names.
type garpFields struct {
	masterDelay, masterRefresh, interval, gnaInterval, lowerPrioDelay *time.Duration
	masterRepeat, masterRefreshRepeat, lowerPrioRepeat                *int
}

func globalGARPFields(g *GlobalDefs) garpFields {
	return garpFields{
		masterDelay: &g.GARPMasterDelay, masterRefresh: &g.GARPMasterRefresh,
		interval: &g.GARPInterval, gnaInterval: &g.GNAInterval, lowerPrioDelay: &g.GARPLowerPrioDelay,
		masterRepeat: &g.GARPMasterRepeat, masterRefreshRepeat: &g.GARPMasterRefreshRepeat,
		lowerPrioRepeat: &g.GARPLowerPrioRepeat,
	}
}

func instanceGARPFields(in *Instance) garpFields {
	return garpFields{
		masterDelay: &in.GARPMasterDelay, masterRefresh: &in.GARPMasterRefresh,
		interval: &in.GARPInterval, gnaInterval: &in.GNAInterval, lowerPrioDelay: &in.GARPLowerPrioDelay,
		masterRepeat: &in.GARPMasterRepeat, masterRefreshRepeat: &in.GARPMasterRefreshRepeat,
		lowerPrioRepeat: &in.GARPLowerPrioRepeat,
	}
}

// garpKeyword is one GARP keyword. vrrp_instance spells it key and
// global_defs "vrrp_"+key (globalGARPPrefix); both parse it with the same
// bounds (keepalived's), and an instance that does not set it takes it from
// global_defs (instanceGARP).
type garpKeyword struct {
	key string
	// A duration is a number of seconds within lo..hi rounded to res; a
	// repeat count (count != nil) is within 1..1000.
	lo, hi, res time.Duration
	dur         func(garpFields) *time.Duration
	count       func(garpFields) *int
	// follows is the keyword whose instance value this one takes when
	// neither the instance nor global_defs sets it.
	follows string
}

const globalGARPPrefix = "vrrp_"

var garpKeywords = []garpKeyword{
	{key: "garp_master_delay", hi: 1000 * time.Second, res: time.Second,
		dur: func(f garpFields) *time.Duration { return f.masterDelay }},
	{key: "garp_master_repeat", count: func(f garpFields) *int { return f.masterRepeat }},
	{key: "garp_master_refresh", hi: 86400 * time.Second, res: time.Second,
		dur: func(f garpFields) *time.Duration { return f.masterRefresh }},
	{key: "garp_master_refresh_repeat", count: func(f garpFields) *int { return f.masterRefreshRepeat }},
	{key: "garp_interval", hi: time.Second, res: time.Microsecond,
		dur: func(f garpFields) *time.Duration { return f.interval }},
	{key: "gna_interval", hi: time.Second, res: time.Microsecond,
		dur: func(f garpFields) *time.Duration { return f.gnaInterval }},
	{key: "garp_lower_prio_delay", hi: 1000 * time.Second, res: time.Second, follows: "garp_master_delay",
		dur: func(f garpFields) *time.Duration { return f.lowerPrioDelay }},
	{key: "garp_lower_prio_repeat", follows: "garp_master_repeat",
		count: func(f garpFields) *int { return f.lowerPrioRepeat }},
}

func lookupGARP(key string) (garpKeyword, bool) {
	for _, k := range garpKeywords {
		if k.key == key {
			return k, true
		}
	}
	return garpKeyword{}, false
}

// garp parses n into f if key (n's keyword without global_defs' prefix) is
// a GARP keyword, and reports whether it was. Errors name n.key(), so they
// read as written in either block.
func (p *parser) garp(f garpFields, key string, n *node) bool {
	k, ok := lookupGARP(key)
	if !ok {
		return false
	}
	if k.count != nil {
		*k.count(f), _ = p.intArg(n, 1, 1000)
	} else {
		*k.dur(f), _ = p.secArg(n, k.lo, k.hi, k.res)
	}
	return true
}

// copyFrom sets k in dst to the value of from (a GARP keyword) in src.
func (k garpKeyword) copyFrom(dst garpFields, from garpKeyword, src garpFields) {
	if k.count != nil {
		*k.count(dst) = *from.count(src)
	} else {
		*k.dur(dst) = *from.dur(src)
	}
}

// instanceGARP fills the GARP settings in did not set: from global_defs,
// or, for a keyword that follows another when global_defs does not set it
// either, from the instance's own value of that one (keepalived: the lower
// priority burst defaults to the master one).
func (p *parser) instanceGARP(in *Instance) {
	g := &p.cfg.Global
	fi, fg := instanceGARPFields(in), globalGARPFields(g)
	for _, k := range garpKeywords { // in order: a followed keyword is filled first
		switch {
		case p.isSet(in, k.key):
		case k.follows == "" || p.isSet(g, globalGARPPrefix+k.key):
			k.copyFrom(fi, k, fg)
		default:
			from, _ := lookupGARP(k.follows)
			k.copyFrom(fi, from, fi)
		}
	}
}
