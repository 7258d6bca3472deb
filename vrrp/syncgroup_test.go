package vrrp

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type sgEvent func(g *SyncGroup, now time.Time) []GroupAction

func sgStart() sgEvent {
	return func(g *SyncGroup, now time.Time) []GroupAction { return g.Start(now) }
}
func sgTick() sgEvent { return func(g *SyncGroup, now time.Time) []GroupAction { return g.Tick(now) } }
func sgRx(i int, prio uint8) sgEvent {
	return func(g *SyncGroup, now time.Time) []GroupAction {
		return g.ReceiveAdvert(now, i, AdvertInfo{Priority: prio, Src: fsmHigh, Interval: time.Second})
	}
}
func sgFault(i int, on bool, reason string) sgEvent {
	return func(g *SyncGroup, now time.Time) []GroupAction { return g.SetFault(now, i, on, reason) }
}
func sgSetPrio(i int, prio uint8) sgEvent {
	return func(g *SyncGroup, now time.Time) []GroupAction { return g.SetPriority(now, i, prio) }
}
func sgShutdown() sgEvent {
	return func(g *SyncGroup, now time.Time) []GroupAction { return g.Shutdown(now) }
}

// sgStep is one input to the group, the actions it must produce, and the
// states of the members and of the group afterwards.
type sgStep struct {
	at     time.Duration
	ev     sgEvent
	want   []GroupAction
	states []State
	group  State
	check  func(t *testing.T, g *SyncGroup)
}

// sgOf tags actions with the member they belong to.
func sgOf(i int, acts ...Action) []GroupAction {
	var out []GroupAction
	for _, a := range acts {
		out = append(out, GroupAction{Member: i, Action: a})
	}
	return out
}

func sgJoin(parts ...[]GroupAction) []GroupAction {
	var out []GroupAction
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func sgMember(name string, prio uint8, wantMaster bool) Params {
	p := fsmV2(prio)
	p.Name, p.WantMaster = name, wantMaster
	return p
}

func TestSyncGroup(t *testing.T) {
	sec := time.Second
	short := sec + sec/256     // 1 × advert_int + minimum skew (v2)
	down := 3*sec + fsmSkew100 // prio 100
	const B, M, F, I = StateBackup, StateMaster, StateFault, StateInit
	backupStart := func(i int) []GroupAction { return sgOf(i, fsmStartBackup()...) }
	gtr := func(from, to State, reason string, d time.Duration) []GroupAction {
		return sgOf(WholeGroup, fsmTr(from, to, reason, d))
	}
	tests := []struct {
		name    string
		members []Params
		steps   []sgStep
	}{
		{
			name:    "members wanting MASTER wait one interval plus minimum skew, then all go MASTER",
			members: []Params{sgMember("VI_1", 100, true), sgMember("VI_2", 100, true)},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				{at: short, ev: sgTick(), want: sgJoin(
					sgOf(0, fsmBecomeMaster(100, B, "master down timer expired", short)...),
					sgOf(1, fsmBecomeMaster(100, B, "sync group G: VI_1 became MASTER (master down timer expired)", short)...),
					gtr(B, M, "sync group G: VI_1 became MASTER (master down timer expired)", short),
				), states: []State{M, M}, group: M},
			},
		},
		{
			name:    "a member that does not want MASTER holds the group in BACKUP until it times out",
			members: []Params{sgMember("VI_1", 100, true), sgMember("VI_2", 100, false)},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				// VI_1 may not go: VI_2 does not want MASTER yet; re-armed.
				{at: short, ev: sgTick(), states: []State{B, B}, group: B},
				{at: down, ev: sgTick(), want: sgJoin(
					sgOf(1, fsmBecomeMaster(100, B, "master down timer expired", down)...),
					sgOf(0, fsmBecomeMaster(100, B, "sync group G: VI_2 became MASTER (master down timer expired)", down)...),
					gtr(B, M, "sync group G: VI_2 became MASTER (master down timer expired)", down),
				), states: []State{M, M}, group: M},
			},
		},
		{
			name:    "a member hearing a master stops wanting MASTER and holds the others",
			members: []Params{sgMember("VI_1", 100, true), sgMember("VI_2", 100, true)},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				{at: sec / 2, ev: sgRx(1, 150), states: []State{B, B}, group: B},
				{at: short, ev: sgTick(), states: []State{B, B}, group: B},
				{at: 2 * sec, ev: sgRx(1, 150), states: []State{B, B}, group: B},
				{at: 3 * sec, ev: sgRx(1, 150), states: []State{B, B}, group: B},
			},
		},
		{
			// keepalived prefers BACKUP: a member may not take over while
			// another member still follows a live master.
			name:    "a risen member cannot preempt while another member follows the master",
			members: []Params{sgMember("VI_1", 100, false), sgMember("VI_2", 100, false)},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				{at: sec, ev: sgRx(0, 150), states: []State{B, B}, group: B},
				{at: sec, ev: sgRx(1, 150), states: []State{B, B}, group: B},
				{at: 1500 * time.Millisecond, ev: sgSetPrio(0, 200), states: []State{B, B}, group: B},
				{at: 2 * sec, ev: sgRx(0, 150), states: []State{B, B}, group: B}, // discarded
				{at: 2 * sec, ev: sgRx(1, 150), states: []State{B, B}, group: B},
				{at: 4*sec + 56*sec/256, ev: sgTick(), states: []State{B, B}, group: B, check: func(t *testing.T, g *SyncGroup) {
					// VI_1's timer (moved by the new skew) fired and was
					// refused: re-armed for a full interval.
					m := g.Member(0)
					if m.Priority() != 200 || !m.NextDeadline().Equal(fsmAt(7*sec+112*sec/256)) {
						t.Errorf("VI_1 priority %d deadline %v, want 200 and %v", m.Priority(), m.NextDeadline().Sub(fsmT0), 7*sec+112*sec/256)
					}
				}},
			},
		},
		{
			name:    "a master member stepping down takes the group to BACKUP",
			members: []Params{sgMember("VI_1", 100, true), sgMember("VI_2", 100, true)},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				{at: short, ev: sgTick(), want: sgJoin(
					sgOf(0, fsmBecomeMaster(100, B, "master down timer expired", short)...),
					sgOf(1, fsmBecomeMaster(100, B, "sync group G: VI_1 became MASTER (master down timer expired)", short)...),
					gtr(B, M, "sync group G: VI_1 became MASTER (master down timer expired)", short),
				), states: []State{M, M}, group: M},
				{at: 2 * sec, ev: sgRx(1, 200), want: sgJoin(
					sgOf(1, RemoveVIPs{}, fsmTr(M, B, "higher priority advert from 10.0.0.3 (prio 200)", 2*sec)),
					sgOf(0, RemoveVIPs{}, fsmTr(M, B, "sync group G: VI_2 became BACKUP (higher priority advert from 10.0.0.3 (prio 200))", 2*sec)),
					gtr(M, B, "sync group G: VI_2 became BACKUP (higher priority advert from 10.0.0.3 (prio 200))", 2*sec),
				), states: []State{B, B}, group: B},
			},
		},
		{
			name:    "fault of one member faults all; the group leaves FAULT when the last fault clears",
			members: []Params{sgMember("VI_1", 100, true), sgMember("VI_2", 100, true)},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				{at: short, ev: sgTick(), want: sgJoin(
					sgOf(0, fsmBecomeMaster(100, B, "master down timer expired", short)...),
					sgOf(1, fsmBecomeMaster(100, B, "sync group G: VI_1 became MASTER (master down timer expired)", short)...),
					gtr(B, M, "sync group G: VI_1 became MASTER (master down timer expired)", short),
				), states: []State{M, M}, group: M},
				{at: 2 * sec, ev: sgFault(0, true, "eth0 down"), want: sgJoin(
					sgOf(0, SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(M, F, "eth0 down", 2*sec)),
					sgOf(1, SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(M, F, "sync group G: VI_1 in fault (eth0 down)", 2*sec)),
					gtr(M, F, "sync group G: VI_1 in fault (eth0 down)", 2*sec),
				), states: []State{F, F}, group: F},
				{at: 3 * sec, ev: sgFault(1, true, "chk failed"), states: []State{F, F}, group: F},
				{at: 4 * sec, ev: sgFault(0, false, "eth0 up"), states: []State{F, F}, group: F},
				{at: 5 * sec, ev: sgFault(1, false, "chk ok"), want: sgJoin(
					sgOf(1, fsmTr(F, B, "chk ok", 5*sec)),
					sgOf(0, fsmTr(F, B, "sync group G: VI_2 left fault", 5*sec)),
					gtr(F, B, "sync group G: VI_2 left fault", 5*sec),
				), states: []State{B, B}, group: B},
			},
		},
		{
			name:    "a fault before start starts the whole group in FAULT",
			members: []Params{sgMember("VI_1", 100, true), sgMember("VI_2", 100, false)},
			steps: []sgStep{
				{at: 0, ev: sgFault(1, true, "no address"), states: []State{I, I}, group: I},
				{at: 0, ev: sgStart(), want: sgJoin(
					sgOf(0, RemoveVIPs{}, fsmTr(I, F, "sync group G: VI_2 (no address) in fault", 0)),
					sgOf(1, RemoveVIPs{}, fsmTr(I, F, "no address", 0)),
					gtr(I, F, "startup", 0),
				), states: []State{F, F}, group: F},
				{at: sec, ev: sgFault(1, false, "address back"), want: sgJoin(
					sgOf(1, fsmTr(F, B, "address back", sec)),
					sgOf(0, fsmTr(F, B, "sync group G: VI_2 left fault", sec)),
					gtr(F, B, "sync group G: VI_2 left fault", sec),
				), states: []State{B, B}, group: B},
			},
		},
		{
			name: "all address owners with state MASTER start MASTER together",
			members: []Params{
				fsmWith(sgMember("VI_1", 255, true), func(p *Params) {}),
				sgMember("VI_2", 255, true),
			},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(
					sgOf(0, fsmBecomeMaster(255, I, "address owner (priority 255) with state MASTER", 0)...),
					sgOf(1, fsmBecomeMaster(255, I, "address owner (priority 255) with state MASTER", 0)...),
					gtr(I, M, "startup", 0),
				), states: []State{M, M}, group: M},
				{at: sec, ev: sgShutdown(), want: sgJoin(
					sgOf(0, SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(M, I, "shutdown", sec)),
					sgOf(1, SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(M, I, "shutdown", sec)),
					gtr(M, I, "shutdown", sec),
				), states: []State{I, I}, group: I},
			},
		},
		{
			name: "a member denied by its gate stays BACKUP while the others follow",
			members: []Params{
				sgMember("VI_1", 100, true),
				fsmWith(sgMember("VI_2", 100, true), func(p *Params) {
					p.Grant = func(time.Time) bool { return false }
				}),
			},
			steps: []sgStep{
				{at: 0, ev: sgStart(), want: sgJoin(backupStart(0), backupStart(1), gtr(I, B, "startup", 0)), states: []State{B, B}, group: B},
				{at: short, ev: sgTick(), want: sgJoin(
					sgOf(0, fsmBecomeMaster(100, B, "master down timer expired", short)...),
					sgOf(1, Claim{Priority: 100}, TakeoverDenied{Reason: "waiting for the arbiter", At: fsmAt(short)}),
					gtr(B, M, "sync group G: VI_1 became MASTER (master down timer expired)", short),
				), states: []State{M, B}, group: M},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ms []*Machine
			for _, p := range tt.members {
				ms = append(ms, NewMachine(p))
			}
			g, err := NewSyncGroup("G", ms...)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				got := s.ev(g, fsmAt(s.at))
				if diff := cmp.Diff(s.want, got, fsmCmp); diff != "" {
					t.Fatalf("step %d (at %v): actions mismatch (-want +got):\n%s", i, s.at, diff)
				}
				var states []State
				for _, m := range ms {
					states = append(states, m.State())
				}
				if diff := cmp.Diff(s.states, states); diff != "" {
					t.Fatalf("step %d (at %v): member states (-want +got):\n%s", i, s.at, diff)
				}
				if g.State() != s.group {
					t.Fatalf("step %d (at %v): group state %v, want %v", i, s.at, g.State(), s.group)
				}
				if s.check != nil {
					s.check(t, g)
				}
			}
		})
	}
}

func TestSyncGroupStartTimers(t *testing.T) {
	ms := []*Machine{
		NewMachine(sgMember("VI_1", 100, true)),
		NewMachine(sgMember("VI_2", 100, false)),
		NewMachine(fsmWith(sgMember("VI_3", 100, true), func(p *Params) { p.Version, p.AdvertInterval = 3, 2*time.Second })),
	}
	g, err := NewSyncGroup("G", ms...)
	if err != nil {
		t.Fatal(err)
	}
	g.Start(fsmT0)
	want := []time.Duration{
		time.Second + time.Second/256,     // v2: 1 × 1 s + 1/256 s
		3*time.Second + fsmSkew100,        // does not want MASTER: full interval
		2*time.Second + 2*time.Second/256, // v3: 1 × 2 s + 2 s/256
	}
	for i, m := range ms {
		if got := m.NextDeadline().Sub(fsmT0); got != want[i] {
			t.Errorf("member %d deadline %v, want %v", i, got, want[i])
		}
	}
	if got := g.NextDeadline().Sub(fsmT0); got != want[0] {
		t.Errorf("group NextDeadline %v, want %v", got, want[0])
	}
	if g.Name() != "G" || g.Member(1) != ms[1] {
		t.Errorf("Name/Member accessors wrong")
	}
	if diff := cmp.Diff(fsmTr(StateInit, StateBackup, "startup", 0), g.LastTransition()); diff != "" {
		t.Errorf("LastTransition (-want +got):\n%s", diff)
	}
	if got := g.Start(fsmT0); got != nil {
		t.Errorf("second Start = %v, want nil", got)
	}
}

func TestNewSyncGroupErrors(t *testing.T) {
	inGroup := NewMachine(sgMember("VI_1", 100, false))
	if _, err := NewSyncGroup("A", inGroup); err != nil {
		t.Fatal(err)
	}
	started := NewMachine(sgMember("VI_2", 100, false))
	started.Start(fsmT0)
	tests := []struct {
		name    string
		members []*Machine
		want    string
	}{
		{"empty", nil, "no members"},
		{"nil member", []*Machine{nil}, "nil member"},
		{"already grouped", []*Machine{inGroup}, "already in sync group A"},
		{"started", []*Machine{started}, "already started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSyncGroup("B", tt.members...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSyncGroup error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
