package vrrp

import "time"

// Preemption damping. A gated node whose link to etcd or to its peers is
// poor (a lossy port, an overloaded host) loses its grant, hears the new
// master, preempts it back through the arbiter, loses the grant again...:
// every round trip moves the VIP twice, each move a GARP storm and broken
// connections. keepalived keeps such a VIP on the lossy node with two
// holders; vipd keeps one holder and, like route-flap damping in BGP, stops
// a troubled node from pulling the VIP back until it has been calm: a node
// that lost a grant it held (revocation, lapsed fence) or whose claim went
// unanswered is damped for dampBase, doubling with each new trouble within
// dampReset (up to dampMax), and at least until it has heard adverts
// without a gap for dampCalm. While damped it does not stand as a
// candidate and does not force a holder to release; it still claims a
// key nobody else takes (after every candidate), so it never costs
// availability.

const (
	dampBase  = 30 * time.Second
	dampMax   = 5 * time.Minute
	dampReset = 10 * time.Minute
	dampCalm  = 10 * time.Second
)

// damp starts or lengthens the damping of a unit's members.
func (e *Engine) damp(now time.Time, members []*instance, why string) {
	e.candDirty = true
	g := &members[0].gate
	switch {
	case g.damp == 0 || now.Sub(g.troubleAt) > dampReset:
		g.damp = dampBase
	default:
		g.damp = min(2*g.damp, dampMax)
	}
	for _, in := range members {
		in.gate.damp, in.gate.troubleAt = g.damp, now
		in.gate.dampUntil = now.Add(g.damp)
	}
	members[0].log.Warn("damping preemption: no candidacy and no forced release until calm", "unit", g.unit, "for", g.damp, "why", why)
}

// dampEnd is when the damping of in ends if nothing else happens (zero
// when it is not damped).
func (in *instance) dampEnd() time.Time {
	if in.gate.dampUntil.IsZero() {
		return time.Time{}
	}
	return maxTime(in.gate.dampUntil, in.gate.gapAt.Add(dampCalm))
}

// damped reports whether in is damped at now.
func (in *instance) damped(now time.Time) bool {
	end := in.dampEnd()
	return !end.IsZero() && now.Before(end)
}

// noteAdvert records a live advert's arrival; a gap of more than one and
// a half intervals since the previous one means adverts are being lost.
func (in *instance) noteAdvert(now time.Time) {
	if !in.lastAdvert.IsZero() && now.Sub(in.lastAdvert) > in.m.AdvertInterval()*3/2 {
		in.gate.gapAt = now
	}
	in.lastAdvert = now
}

// undamp ends a damping whose time has come.
func (e *Engine) undamp(now time.Time, in *instance) {
	if end := in.dampEnd(); !end.IsZero() && !now.Before(end) {
		in.gate.dampUntil = time.Time{}
		e.candDirty = true
		in.log.Info("preemption damping over", "unit", in.gate.unit)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
