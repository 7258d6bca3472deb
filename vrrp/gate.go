package vrrp

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vipd/vipd/arbiter/mastership"
	"github.com/vipd/vipd/internal/control"
)

// DefaultHeadStart is how long each candidate for a freed key waits for
// the ones before it in the arbiter's order (an operator's target first,
// then by priority) before claiming itself: a second is ample for a live
// node to claim, and only a candidate that died or cannot reach etcd ever
// costs it.
const DefaultHeadStart = time.Second

// claimPatience is how long an unanswered Claim blocks new ones. The
// arbiter answers every claim; this only bounds the damage of a lost one.
const claimPatience = 10 * time.Second

// VIPProber looks for another host answering for a VIP (RFC 5227
// duplicate-address probe): holder describes it (its MAC) when found.
type VIPProber func(ctx context.Context, ifname string, vip netip.Addr) (holder string, found bool, err error)

// ProbeTimeout bounds one duplicate probe (three ARP probes, RFC 5227).
const ProbeTimeout = 300 * time.Millisecond

// probeResult is a finished duplicate probe, for the engine goroutine.
type probeResult struct {
	inst   string
	vip    netip.Addr
	holder string
	found  bool
}

// claimSpread spaces the claims of backups that all saw a key freed, in
// priority order (like VRRP's skew), so the highest priority usually wins
// the race without a failed transaction: (255 − prio)/255 of it.
const claimSpread = 20 * time.Millisecond

// gateState is an instance's view of its arbiter unit.
type gateState struct {
	unit                            string        // ownership key name: the instance, or "group:<name>"
	claiming                        bool          // a Claim is outstanding
	claimed                         time.Time     // when it was sent
	claimAt                         time.Time     // retry the takeover then (after Freed); zero: none
	freedAt                         time.Time     // when the key was last seen freed
	stood                           uint8         // the candidacy last given to the arbiter (0: none)
	damp                            time.Duration // the current damping period (damping.go)
	dampUntil                       time.Time     // damped until then at least; zero: not damped
	troubleAt                       time.Time     // the last trouble that damped us
	gapAt                           time.Time     // the last gap in the adverts we hear
	token                           int64         // last granted token (status, notify)
	holder                          string        // last denial's holder
	reason                          string        // last denial or revocation
	release                         bool          // release the unit once no member holds VIPs
	to                              string        // vipctl handover --to: the release is meant for this node
	denials, revocations, conflicts uint64        // counted for status and metrics
	probing                         bool          // a duplicate probe runs before the claim
	clean                           bool          // the key was freed by a clean release: skip the probe
	zombie                          string        // a host answered for our VIP: the alarm, until a probe is clean (see zombieAlarm)
	zombieAt                        time.Time     // when the alarm was raised
}

// unitOf is the arbiter unit of an instance: its sync group moves as one.
func unitOf(in *instance) string {
	if in.group != nil {
		return "group:" + in.group.cfg.Name
	}
	return in.cfg.Name
}

// gated reports whether in needs the arbiter's grant to be master.
func (e *Engine) gated(in *instance) bool {
	return e.opt.Arbiter != nil && !in.cfg.ArbiterOff
}

// granted is Params.Grant: the machine's takeover decision reads the
// unit's current grant and nothing else. An ungated instance needs none.
func (e *Engine) granted(in *instance, now time.Time) bool {
	if !e.gated(in) {
		return true
	}
	_, ok := e.opt.Arbiter.Grant(in.gate.unit, now)
	return ok
}

// requestGrant carries out the machine's Claim: it asks the arbiter for
// the unit's key, unless a claim or a duplicate probe is already under
// way, and probes first after an unclean loss.
func (e *Engine) requestGrant(now time.Time, in *instance, prio uint8) {
	if !e.gated(in) {
		return
	}
	g := &in.gate
	if g.claiming && now.Sub(g.claimed) > claimPatience {
		g.claiming = false // never wait forever on an answer that was lost
		e.damp(now, e.unitMembers(in), "claim unanswered for "+claimPatience.String())
	}
	switch {
	case g.claiming || g.probing:
	case e.opt.ProbeVIP != nil && !g.clean && !in.m.HeardMaster(now) && len(in.probeAddrs()) > 0:
		// Before claiming after an unclean loss, make sure nobody still
		// answers for the VIPs (a zombie holder): alarm, no claim. A master
		// we hear advertising (we preempt it) is no zombie: a frozen one is
		// silent. Its VIPs would answer the probe, so we claim instead, and
		// a denial sends the advert that makes it release.
		g.probing = true
		name, ifname, addrs := in.cfg.Name, in.link.key.ifname, in.probeAddrs()
		e.spawn(func() { e.probe(name, ifname, addrs) })
	default:
		g.claiming, g.claimed = true, now
		e.opt.Arbiter.Claim(g.unit, prio)
	}
	g.clean = false
}

// waitReason is why a gated backup that wants MASTER is not master yet,
// for the log.
func (in *instance) waitReason() string {
	if z := in.zombieAlarm(); z != "" {
		return z
	}
	if in.gate.reason != "" {
		return "waiting for the arbiter (last: " + in.gate.reason + ")"
	}
	return "waiting for the arbiter"
}

// lifetimeFor is how long VIPs installed now may live: the VRRP fence's
// lifetime, shortened to what the arbiter's lease allows. ok is false when
// a gated instance has no grant: its VIPs must not be (re)installed.
func (e *Engine) lifetimeFor(in *instance, now time.Time) (time.Duration, bool) {
	if !e.gated(in) {
		return in.lifetime, true
	}
	g, ok := e.opt.Arbiter.Grant(in.gate.unit, now)
	if !ok {
		return 0, false
	}
	return min(in.lifetime, g.Lifetime), true
}

// arbiterEvent applies one answer of the arbiter to the instances of its unit.
func (e *Engine) arbiterEvent(now time.Time, ev mastership.Event) {
	e.candDirty = true
	var members []*instance
	for _, in := range e.insts {
		if e.gated(in) && in.gate.unit == ev.Unit {
			members = append(members, in)
		}
	}
	if len(members) == 0 {
		if ev.Kind == mastership.Granted {
			e.opt.Arbiter.Release(ev.Unit, "") // nobody wants it any more (removed by reload)
		}
		return
	}
	lead := members[0]
	switch ev.Kind {
	case mastership.Granted:
		for _, in := range members {
			in.gate.claiming, in.gate.token, in.gate.reason, in.gate.holder = false, ev.Grant.Token, "", ""
		}
		lead.log.Info("arbiter granted", "unit", ev.Unit, "token", ev.Grant.Token, "lifetime", ev.Grant.Lifetime)
		if lead.m.State() == StateBackup && lead.m.DeniedReason() != "" {
			e.takeOver(now, lead, fmt.Sprintf("arbiter granted (token %d)", ev.Grant.Token))
			return
		}
		if !e.unitHolds(members) {
			// A better master appeared while we waited: give it back.
			lead.log.Info("grant no longer wanted, releasing", "unit", ev.Unit)
			e.opt.Arbiter.Release(ev.Unit, "")
		}
	case mastership.Denied:
		for _, in := range members {
			in.gate.claiming, in.gate.holder, in.gate.reason = false, ev.Holder, ev.Reason
			in.gate.denials++
		}
		lead.log.Info("arbiter denied", "unit", ev.Unit, "holder", ev.Holder, "reason", ev.Reason)
		// VRRP says we should be master but another node holds the key. If
		// that holder can hear us and has a lower priority, one advert from
		// us makes it step down as any VRRP master would (preemption), and
		// its release frees the key for us. A partitioned holder never hears
		// it and keeps the VIP: the arbiter, not VRRP, decides.
		force := ev.Holder != "" && ev.Holder != e.opt.Node && !lead.cfg.Nopreempt && !lead.m.PreemptHeld()
		if force && lead.damped(now) {
			lead.log.Info("not forcing a release: preemption damped", "until", lead.dampEnd())
			force = false
		}
		if force {
			for _, in := range members {
				if in.m.State() == StateBackup {
					in.sendAdvert(in.m.Priority())
				}
			}
		}
	case mastership.Freed:
		// A planned handover (or an expired holder): the backups claim in
		// the arbiter's order instead of waiting for their down timers.
		lead.log.Info("ownership key freed", "unit", ev.Unit, "reason", ev.Reason, "candidates", ev.Order)
		for _, in := range members {
			if in.m.State() == StateBackup {
				in.gate.clean = ev.Clean
				if ev.Clean {
					in.gate.zombie = "" // what answered for the VIP was this holder, and it let go
				}
				in.gate.freedAt = now
				in.gate.claimAt = now.Add(claimWait(ev, e.opt.Node, in.m.Priority(), e.opt.HeadStart))
			}
		}
	case mastership.Revoked:
		for _, in := range members {
			in.gate.reason = "revoked: " + ev.Reason
			in.gate.revocations++
			if ev.Cause == mastership.CauseConflict {
				in.gate.conflicts++
			}
		}
		if e.unitHolds(members) {
			e.damp(now, members, "grant revoked: "+ev.Reason)
			lead.log.Warn("arbiter revoked the grant, stepping down", "unit", ev.Unit, "reason", ev.Reason)
			for _, in := range members {
				e.stepDown(now, in, "arbiter revoked the grant: "+ev.Reason)
			}
		}
		e.opt.Arbiter.Release(ev.Unit, "")
	case mastership.Renewed:
		for _, in := range members {
			if in.holding {
				e.installVIPs(now, in)
			}
		}
	}
}

// claimWait is how long a backup waits before claiming a freed key: the
// operator's target at once, the candidates in the arbiter's order a head
// start apart, and a node that is not a candidate (an old master holding
// off after a handover, a backup whose candidacy is not written yet) only
// after all of them; with no candidates at all, backups are spread by
// priority as VRRP's skew would.
func claimWait(ev mastership.Event, node string, prio uint8, headStart time.Duration) time.Duration {
	spread := claimSpread * time.Duration(255-int(prio)) / 255
	if ev.Target == node {
		return 0
	}
	if i := slices.Index(ev.Order, node); i >= 0 {
		return time.Duration(i) * headStart
	}
	ahead := len(ev.Order)
	if ev.Target != "" && !slices.Contains(ev.Order, ev.Target) {
		ahead++
	}
	return time.Duration(ahead)*headStart + spread
}

// standing is the candidacy a unit should have: its lead's priority while
// every member is a healthy backup ready to take over, else 0.
func (e *Engine) standing(now time.Time, members []*instance) uint8 {
	for _, in := range members {
		if in.m.State() != StateBackup || in.fault || in.m.PreemptHeld() || in.zombieAlarm() != "" || in.damped(now) {
			return 0
		}
	}
	return members[0].m.Priority()
}

// flushCandidacies tells the arbiter about every unit whose candidacy
// changed since the last event. It scans the instances only after an event
// that can change one (a transition, a priority, an arbiter event, a
// probe, damping, a reload: candDirty), not on every advert.
func (e *Engine) flushCandidacies(now time.Time) {
	if e.opt.Arbiter == nil || !e.candDirty {
		return
	}
	e.candDirty = false
	for _, in := range e.insts {
		if !e.gated(in) || (in.group != nil && in.group.members[0] != in) {
			continue // a group is handled with its first member
		}
		if p := e.standing(now, e.unitMembers(in)); p != in.gate.stood {
			in.gate.stood = p
			e.opt.Arbiter.Stand(in.gate.unit, p)
		}
	}
}

// unitMembers is in with the rest of its sync group.
func (e *Engine) unitMembers(in *instance) []*instance {
	if in.group != nil {
		return in.group.members
	}
	return []*instance{in}
}

// unitHolds reports whether any member of a unit holds its VIPs.
func (e *Engine) unitHolds(members []*instance) bool {
	for _, in := range members {
		if in.holding || in.m.State() == StateMaster {
			return true
		}
	}
	return false
}

// takeOver retries the move into MASTER now (the gate has said yes, or the
// key was freed), through the sync group when there is one.
func (e *Engine) takeOver(now time.Time, in *instance, reason string) {
	in.gate.claimAt = time.Time{}
	e.drive(now, in,
		func(m *Machine) []Action { return m.ForceState(now, StateMaster, reason) },
		func(g *SyncGroup, i int) []GroupAction { return g.ForceState(now, i, StateMaster, reason) })
}

// stepDown leaves MASTER for BACKUP at once, VIPs first, then tells the
// backups with a priority-0 advert (DESIGN: step-down order).
func (e *Engine) stepDown(now time.Time, in *instance, reason string) {
	e.removeVIPs(in)
	if in.m.State() == StateMaster {
		e.drive(now, in,
			func(m *Machine) []Action { return m.ForceState(now, StateBackup, reason) },
			func(g *SyncGroup, i int) []GroupAction { return g.ForceState(now, i, StateBackup, reason) })
		in.sendAdvert(0)
	}
}

// Handover steps a master instance (with its sync group) down on the
// operator's request: VIPs removed, priority 0, key released so a backup
// claims at once; this node then holds off preempting until it is master
// again, so the move sticks.
func (e *Engine) Handover(ctx context.Context, name, to string) error {
	var err error
	derr := e.do(ctx, func(now time.Time) {
		in := e.byKey[name]
		switch {
		case in == nil:
			err = fmt.Errorf("no instance %q", name)
			return
		case in.m.State() != StateMaster:
			err = fmt.Errorf("instance %s is %s here, not MASTER", name, in.m.State())
			return
		}
		members := e.unitMembers(in)
		if to == e.opt.Node {
			err = fmt.Errorf("instance %s is already MASTER on %s", name, to)
			return
		}
		if to != "" && !e.gated(in) {
			err = fmt.Errorf("handover --to needs the arbiter (instance %s is plain VRRP)", name)
			return
		}
		for _, m := range members {
			m.m.HoldPreempt()
			m.gate.to = to
		}
		for _, m := range members {
			if m.m.State() == StateMaster {
				in.log.Info("handover requested", "instance", m.cfg.Name)
				e.stepDown(now, m, "handover requested by the operator")
				m.gate.release = e.gated(m)
			}
		}
	})
	if derr != nil {
		return derr
	}
	return err
}

// flushReleases releases the units whose members all dropped their VIPs
// since the last event: a sync group is released only as a whole.
func (e *Engine) flushReleases() {
	if e.opt.Arbiter == nil {
		return
	}
	units := map[string][]*instance{}
	for _, in := range e.insts {
		if e.gated(in) {
			units[in.gate.unit] = append(units[in.gate.unit], in)
		}
	}
	for unit, members := range units {
		pending, to := false, ""
		for _, in := range members {
			pending = pending || in.gate.release
			to = cmp.Or(to, in.gate.to)
		}
		if !pending || e.unitHolds(members) {
			continue
		}
		for _, in := range members {
			in.gate.release, in.gate.to = false, ""
		}
		e.opt.Arbiter.Release(unit, to)
	}
}

// gateStatus is the arbiter's part of vipctl status.
func (e *Engine) gateStatus(in *instance, now time.Time) *control.ArbiterStatus {
	if !e.gated(in) {
		return nil
	}
	st := &control.ArbiterStatus{Unit: in.gate.unit, Holder: in.gate.holder, Reason: in.gate.reason,
		Denials: in.gate.denials, Revocations: in.gate.revocations, Conflicts: in.gate.conflicts}
	if z := in.zombieAlarm(); z != "" {
		st.Reason = z
	}
	if g, ok := e.opt.Arbiter.Grant(in.gate.unit, now); ok {
		st.Granted, st.Token, st.ValidUntil = true, g.Token, g.ValidUntil
	} else if in.gate.holder != "" {
		st.Reason = "held by " + in.gate.holder + tokenSuffix(in.gate.reason)
	}
	return st
}

func tokenSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// notifyEnv is what notify scripts get besides keepalived's arguments.
func (e *Engine) notifyEnv(in *instance) map[string]string {
	if !e.gated(in) || in.gate.token == 0 {
		return nil
	}
	return map[string]string{
		"VIPD_TOKEN":    strconv.FormatInt(in.gate.token, 10),
		"VIPD_INSTANCE": in.cfg.Name,
		"VIPD_NODE":     e.opt.Node,
	}
}

// prepareArbiter hands the arbiter the units of the gated instances (after
// their stale VIPs were removed).
func (e *Engine) prepareArbiter() {
	if e.opt.Arbiter == nil {
		return
	}
	var units []string
	for _, in := range e.insts {
		if e.gated(in) && !slices.Contains(units, in.gate.unit) {
			units = append(units, in.gate.unit)
		}
	}
	e.opt.Arbiter.Prepare(units)
}

// zombieAlarm is the duplicate probe's alarm, until a live master is heard
// after it: the host that answered was then most likely that master, which
// took over while we probed (backups time out together), and we follow it.
func (in *instance) zombieAlarm() string {
	if g := &in.gate; g.zombie != "" && in.m.HeardSince(g.zombieAt) {
		in.log.Info("a live master advertises; the duplicate probe's alarm is cleared", "was", g.zombie)
		g.zombie = ""
	}
	return in.gate.zombie
}

// probeAddrs are the IPv4 VIPs a duplicate probe can check (ARP).
func (in *instance) probeAddrs() []netip.Addr {
	var out []netip.Addr
	for _, v := range in.vips {
		if a := v.Prefix.Addr(); a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// probe runs the duplicate probe off the engine goroutine and reports the
// first VIP some host answers for.
func (e *Engine) probe(inst, ifname string, vips []netip.Addr) {
	res := probeResult{inst: inst}
	for _, v := range vips {
		ctx, cancel := context.WithTimeout(e.runCtx, ProbeTimeout+100*time.Millisecond)
		holder, found, err := e.opt.ProbeVIP(ctx, ifname, v)
		cancel()
		if err != nil {
			e.log.Warn("duplicate probe failed; claiming without it", "instance", inst, "vip", v, "err", err)
			continue
		}
		if found {
			res.vip, res.holder, res.found = v, holder, true
			break
		}
	}
	select {
	case e.probes <- res:
	case <-e.runCtx.Done():
	}
}

// probeDone claims after a clean probe; a host answering for the VIP is an
// alarm (a zombie holder: the old master frozen with its VIP up, or a
// misconfigured host) and the instance stays BACKUP until a probe is clean.
func (e *Engine) probeDone(now time.Time, r probeResult) {
	in := e.byKey[r.inst]
	if in == nil || !e.gated(in) {
		return
	}
	g := &in.gate
	g.probing = false
	e.candDirty = true
	if r.found && in.m.HeardMaster(now) {
		// Backups that time out together all probe while one of them
		// wins: the host answering is the master we now hear, no zombie.
		in.log.Info("a live master answers for the VIP; following it", "vip", r.vip, "holder", r.holder)
		g.zombie = ""
		return
	}
	if r.found {
		g.zombie = fmt.Sprintf("not claiming: %s answers for %s (zombie holder?)", r.holder, r.vip)
		g.zombieAt = now
		in.log.Error("ALARM: another host answers for our VIP; not claiming", "vip", r.vip, "holder", r.holder)
		return
	}
	g.zombie = ""
	if in.m.State() == StateBackup && in.m.DeniedReason() != "" && !g.claiming {
		g.claiming, g.claimed = true, now
		e.opt.Arbiter.Claim(g.unit, in.m.Priority())
	}
}
