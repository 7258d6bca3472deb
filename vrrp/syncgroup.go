package vrrp

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// SyncGroup is a vrrp_sync_group: instances that change state together, as
// keepalived's vrrp_sync.c does. When a member becomes MASTER the others are
// moved to MASTER; when a master member falls back to BACKUP the others
// follow; when a member enters FAULT the others are moved to FAULT, and the
// group leaves FAULT (to BACKUP) only when no member has a fault of its own.
// A member may only take over by its own timer while the group is MASTER or
// every other member wants MASTER too (keepalived prefers BACKUP to avoid
// thrashing).
//
// Like Machine it is pure and not safe for concurrent use. Members must be
// driven only through the group's methods, which apply the rules above to
// the others; calling a member's own methods skips them.
type SyncGroup struct {
	name    string
	members []*Machine
	state   State
	last    Transition
}

// WholeGroup is the Member of a GroupAction that concerns the group itself
// (a Transition, for the group's notify scripts and FIFO line).
const WholeGroup = -1

// GroupAction is one action of a member, identified by its index in the
// group, or of the whole group. Actions are in the order to carry them out.
type GroupAction struct {
	Member int
	Action Action
}

// NewSyncGroup groups machines that are not started and not in a group yet.
func NewSyncGroup(name string, members ...*Machine) (*SyncGroup, error) {
	if len(members) == 0 {
		return nil, errors.New("vrrp: sync group " + name + " has no members")
	}
	g := &SyncGroup{name: name}
	for _, m := range members {
		switch {
		case m == nil:
			return nil, fmt.Errorf("vrrp: sync group %s: nil member", name)
		case m.group != nil:
			return nil, fmt.Errorf("vrrp: sync group %s: %s is already in sync group %s", name, m.p.Name, m.group.name)
		case m.state != StateInit:
			return nil, fmt.Errorf("vrrp: sync group %s: %s is already started", name, m.p.Name)
		}
	}
	for _, m := range members {
		m.group = g
	}
	g.members = append(g.members, members...)
	return g, nil
}

// Name returns the group's name.
func (g *SyncGroup) Name() string { return g.name }

// State returns the group's state: INIT before Start and after Shutdown.
func (g *SyncGroup) State() State { return g.state }

// LastTransition returns the group's most recent state change.
func (g *SyncGroup) LastTransition() Transition { return g.last }

// Member returns the i-th member.
func (g *SyncGroup) Member(i int) *Machine { return g.members[i] }

// Start starts every member. The group starts MASTER only if every member
// is an address owner with `state MASTER`, FAULT if a member has a fault,
// and BACKUP otherwise; then members that want MASTER wait only one advert
// interval plus the minimum skew (keepalived vrrp_scheduler.c:248-251).
func (g *SyncGroup) Start(now time.Time) []GroupAction {
	if g.state != StateInit {
		return nil
	}
	st := StateMaster
	for _, m := range g.members {
		if m.p.Priority != fsmOwnerPrio || !m.p.WantMaster {
			st = StateBackup
		}
	}
	for _, m := range g.members {
		if m.fault {
			st = StateFault
		}
	}
	g.state = st // the members' Start consults it
	var out []GroupAction
	for i, m := range g.members {
		out = g.add(out, i, m.Start(now))
	}
	g.state = StateInit
	return append(out, g.transition(now, st, "startup"))
}

// NextDeadline returns the earliest member deadline; zero when none runs.
func (g *SyncGroup) NextDeadline() time.Time {
	var d time.Time
	for _, m := range g.members {
		if t := m.NextDeadline(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// Tick runs every member timer due at now.
func (g *SyncGroup) Tick(now time.Time) []GroupAction {
	var out []GroupAction
	for i, m := range g.members {
		if d := m.NextDeadline(); !d.IsZero() && !now.Before(d) {
			out = append(out, g.follow(now, i, m.Tick(now))...)
		}
	}
	return out
}

// ReceiveAdvert gives an advert to member i.
func (g *SyncGroup) ReceiveAdvert(now time.Time, i int, adv AdvertInfo) []GroupAction {
	return g.follow(now, i, g.members[i].ReceiveAdvert(now, adv))
}

// SetPriority sets member i's effective priority.
func (g *SyncGroup) SetPriority(now time.Time, i int, effective uint8) []GroupAction {
	return g.follow(now, i, g.members[i].SetPriority(now, effective))
}

// SetFault sets or clears member i's own fault and moves the group with it.
func (g *SyncGroup) SetFault(now time.Time, i int, fault bool, reason string) []GroupAction {
	m := g.members[i]
	out := g.add(nil, i, m.SetFault(now, fault, reason))
	if g.state == StateInit {
		return out
	}
	if fault && g.state != StateFault {
		return append(out, g.moveAll(now, i, StateFault, fmt.Sprintf("sync group %s: %s in fault (%s)", g.name, m.p.Name, reason))...)
	}
	if !fault && g.state == StateFault && m.state == StateBackup {
		return append(out, g.moveAll(now, i, StateBackup, fmt.Sprintf("sync group %s: %s left fault", g.name, m.p.Name))...)
	}
	return out
}

// ForceState moves member i to st as Machine.ForceState does (the arbiter's
// grant arriving, or a key freed), and the group with it.
func (g *SyncGroup) ForceState(now time.Time, i int, st State, reason string) []GroupAction {
	return g.follow(now, i, g.members[i].ForceState(now, st, reason))
}

// Shutdown shuts every member down.
func (g *SyncGroup) Shutdown(now time.Time) []GroupAction {
	if g.state == StateInit {
		return nil
	}
	var out []GroupAction
	for i, m := range g.members {
		out = g.add(out, i, m.Shutdown(now))
	}
	return append(out, g.transition(now, StateInit, "shutdown"))
}

// follow applies keepalived's transition table (vrrp_scheduler.c VRRP_TSM)
// after member i produced acts: becoming MASTER pulls the group to MASTER,
// MASTER→BACKUP pushes it to BACKUP.
func (g *SyncGroup) follow(now time.Time, i int, acts []Action) []GroupAction {
	out := g.add(nil, i, acts)
	for _, a := range acts {
		t, ok := a.(Transition)
		if !ok {
			continue
		}
		name := g.members[i].p.Name
		switch {
		case t.To == StateMaster && g.state != StateMaster:
			out = append(out, g.moveAll(now, i, StateMaster, fmt.Sprintf("sync group %s: %s became MASTER (%s)", g.name, name, t.Reason))...)
		case t.From == StateMaster && t.To == StateBackup && g.state != StateBackup:
			out = append(out, g.moveAll(now, i, StateBackup, fmt.Sprintf("sync group %s: %s became BACKUP (%s)", g.name, name, t.Reason))...)
		}
	}
	return out
}

// moveAll forces every member but i to st and records the group's change.
func (g *SyncGroup) moveAll(now time.Time, i int, st State, reason string) []GroupAction {
	var out []GroupAction
	for j, m := range g.members {
		if j != i {
			out = g.add(out, j, m.ForceState(now, st, reason))
		}
	}
	return append(out, g.transition(now, st, reason))
}

func (g *SyncGroup) add(out []GroupAction, i int, acts []Action) []GroupAction {
	for _, a := range acts {
		out = append(out, GroupAction{Member: i, Action: a})
	}
	return out
}

func (g *SyncGroup) transition(now time.Time, st State, reason string) GroupAction {
	t := Transition{From: g.state, To: st, Reason: reason, At: now}
	g.state = st
	g.last = t
	return GroupAction{Member: WholeGroup, Action: t}
}

// canGoMaster is keepalived's vrrp_sync_can_goto_master.
func (g *SyncGroup) canGoMaster(m *Machine) bool {
	if g.state == StateMaster {
		return true
	}
	for _, o := range g.members {
		if o != m && !o.wantMaster {
			return false
		}
	}
	return true
}

// othersFaulty reports whether a member other than m has its own fault, so
// the group (and m) must stay in FAULT.
func (g *SyncGroup) othersFaulty(m *Machine) bool {
	for _, o := range g.members {
		if o != m && o.fault {
			return true
		}
	}
	return false
}

// faultReason explains a FAULT forced by other members at start.
func (g *SyncGroup) faultReason(m *Machine) string {
	var names []string
	for _, o := range g.members {
		if o != m && o.fault {
			names = append(names, fmt.Sprintf("%s (%s)", o.p.Name, o.faultBy))
		}
	}
	return fmt.Sprintf("sync group %s: %s in fault", g.name, strings.Join(names, ", "))
}
