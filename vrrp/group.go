package vrrp

import (
	"slices"
	"strings"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/notify"
)

// group is a vrrp_sync_group at run time: the pure SyncGroup that moves its
// members together, and the instances behind its member indexes.
type group struct {
	sg      *SyncGroup
	cfg     *config.SyncGroup
	members []*instance // members[i] drives sg.Member(i)
}

// groupKey is what must not change across a reload for a member to keep
// running: the group's name and exact membership.
func groupKey(cfg *config.Config, c *config.Instance) string {
	if c.SyncGroup == "" {
		return ""
	}
	g := cfg.SyncGroup(c.SyncGroup)
	if g == nil {
		return ""
	}
	m := slices.Clone(g.Members)
	slices.Sort(m)
	return g.Name + "\x00" + strings.Join(m, "\x00")
}

// drive runs one event on an instance's machine — through its sync group
// when it has one, so the other members follow — and carries out the
// resulting actions.
func (e *Engine) drive(now time.Time, in *instance, solo func(*Machine) []Action, grouped func(*SyncGroup, int) []GroupAction) {
	if in.group == nil {
		e.apply(now, in, solo(in.m))
		return
	}
	e.applyGroup(now, in.group, grouped(in.group.sg, in.gidx))
}

func (e *Engine) applyGroup(now time.Time, g *group, acts []GroupAction) {
	for _, ga := range acts {
		if ga.Member != WholeGroup {
			e.apply(now, g.members[ga.Member], []Action{ga.Action})
			continue
		}
		t, ok := ga.Action.(Transition)
		if !ok {
			continue
		}
		e.log.Info("sync group transition", "group", g.cfg.Name, "from", t.From.String(), "to", t.To.String(), "reason", t.Reason)
		state := t.To.String()
		if t.To == StateInit {
			state = "STOP"
		}
		e.opt.Notifier.Notify(notify.Scripts{
			Master: g.cfg.NotifyMaster, Backup: g.cfg.NotifyBackup, Fault: g.cfg.NotifyFault,
			Stop: g.cfg.NotifyStop, Generic: g.cfg.Notify, User: runAsName(e.cfg.Global.ScriptUser, e.cfg.Global.ScriptGroup),
		}, notify.Event{Type: "GROUP", Name: g.cfg.Name, State: state, Priority: 0})
	}
}

// newGroup builds the run-time group of cfg from instances not started yet.
func (e *Engine) newGroup(cfg *config.SyncGroup) *group {
	g := &group{cfg: cfg}
	var ms []*Machine
	for _, name := range cfg.Members {
		if in := e.byKey[name]; in != nil {
			g.members = append(g.members, in)
			ms = append(ms, in.m)
		}
	}
	sg, err := NewSyncGroup(cfg.Name, ms...)
	if err != nil {
		e.log.Error("sync group not built; members run alone", "group", cfg.Name, "err", err)
		return nil
	}
	g.sg = sg
	for i, in := range g.members {
		in.group, in.gidx = g, i
	}
	return g
}
