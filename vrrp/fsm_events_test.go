package vrrp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMachineEvents covers the gate, faults, shutdown and ForceState.
func TestMachineEvents(t *testing.T) {
	down := 3*time.Second + fsmSkew100 // v2, prio 100, adv 1 s
	sec := time.Second
	fsmRunCases(t, []fsmCase{
		{
			name: "no grant: a claim, BACKUP with the reason and the timer re-armed",
			p: fsmWith(fsmV2(100), func(p *Params) {
				p.Grant = func(now time.Time) bool { return !now.Before(fsmAt(10 * time.Second)) }
			}),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: down, ev: fsmTick(), want: []Action{Claim{Priority: 100}, TakeoverDenied{Reason: "waiting for the arbiter", At: fsmAt(down)}}, state: StateBackup, deadline: 2 * down},
				{at: 2 * down, ev: fsmTick(), want: []Action{Claim{Priority: 100}, TakeoverDenied{Reason: "waiting for the arbiter", At: fsmAt(2 * down)}}, state: StateBackup, deadline: 3 * down},
				{at: 3 * down, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master down timer expired", 3*down), state: StateMaster, deadline: sec + 3*down},
			},
		},
		{
			name: "a denied claimant that then follows a master drops the denial",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.Grant = func(time.Time) bool { return false } }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: down, ev: fsmTick(), want: []Action{Claim{Priority: 100}, TakeoverDenied{Reason: "waiting for the arbiter", At: fsmAt(down)}}, state: StateBackup, deadline: 2 * down},
				{at: down + sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: sec + 2*down},
			},
			check: func(t *testing.T, m *Machine) {
				if got := m.DeniedReason(); got != "" {
					t.Errorf("DeniedReason() = %q, want empty", got)
				}
			},
		},
		{
			name: "gate denial of an owner at start leaves it BACKUP",
			p: fsmWith(fsmV2(255), func(p *Params) {
				p.WantMaster = true
				p.Grant = func(time.Time) bool { return false }
			}),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: []Action{Claim{Priority: 255}, TakeoverDenied{Reason: "waiting for the arbiter", At: fsmAt(0)}, RemoveVIPs{}, fsmTr(StateInit, StateBackup, "takeover denied: waiting for the arbiter", 0)},
					state: StateBackup, deadline: 3*sec + sec/256},
			},
			check: func(t *testing.T, m *Machine) {
				if got := m.DeniedReason(); got != "waiting for the arbiter" {
					t.Errorf("DeniedReason() = %q", got)
				}
			},
		},
		{
			name: "fault from BACKUP and back",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmFault(true, "script chk failed"), want: []Action{fsmTr(StateBackup, StateFault, "script chk failed", sec)}, state: StateFault, noDeadline: true},
				{at: 2 * sec, ev: fsmFault(true, "again"), state: StateFault, noDeadline: true},
				{at: 3 * sec, ev: fsmRx(50, fsmLow, sec), state: StateFault, noDeadline: true},
				{at: 4 * sec, ev: fsmTick(), state: StateFault, noDeadline: true},
				{at: 5 * sec, ev: fsmFault(false, "script chk recovered"), want: []Action{fsmTr(StateFault, StateBackup, "script chk recovered", 5*sec)}, state: StateBackup, deadline: 5*sec + down},
				{at: 6 * sec, ev: fsmFault(false, "twice"), state: StateBackup, deadline: 5*sec + down},
			},
		},
		{
			name: "a master entering fault sends priority 0 and removes VIPs",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmFault(true, "interface eth0 down"), want: []Action{SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(StateMaster, StateFault, "interface eth0 down", 5*sec)}, state: StateFault, noDeadline: true},
				fsmStep{at: 6 * sec, ev: fsmFault(false, "interface eth0 up"), want: []Action{fsmTr(StateFault, StateBackup, "interface eth0 up", 6*sec)}, state: StateBackup, deadline: 6*sec + down},
			),
		},
		{
			name: "an owner leaving fault goes to BACKUP and waits",
			p:    fsmWith(fsmV2(255), func(p *Params) { p.WantMaster = true }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmBecomeMaster(255, StateInit, "address owner (priority 255) with state MASTER", 0), state: StateMaster, deadline: sec},
				{at: sec, ev: fsmFault(true, "x"), want: []Action{SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(StateMaster, StateFault, "x", sec)}, state: StateFault, noDeadline: true},
				{at: 2 * sec, ev: fsmFault(false, "y"), want: []Action{fsmTr(StateFault, StateBackup, "y", 2*sec)}, state: StateBackup, deadline: 5*sec + sec/256},
			},
		},
		{
			name: "fault before start starts in FAULT",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmFault(true, "track_file x"), noDeadline: true},
				{at: 0, ev: fsmStart(), want: []Action{RemoveVIPs{}, fsmTr(StateInit, StateFault, "track_file x", 0)}, state: StateFault, noDeadline: true},
			},
		},
		{
			name: "v3 leaving fault forgets the learnt interval",
			p:    fsmV3(100, sec),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, 2*sec), state: StateBackup, deadline: 7*sec + fsmMs(1218.75)},
				{at: 2 * sec, ev: fsmFault(true, "x"), want: []Action{fsmTr(StateBackup, StateFault, "x", 2*sec)}, state: StateFault, noDeadline: true},
				{at: 3 * sec, ev: fsmFault(false, "y"), want: []Action{fsmTr(StateFault, StateBackup, "y", 3*sec)}, state: StateBackup, deadline: 3*sec + down},
			},
		},
		{
			name: "shutdown of a master sends priority 0 and removes VIPs; start again",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmShutdown(), want: []Action{SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(StateMaster, StateInit, "shutdown", 5*sec)}, state: StateInit, noDeadline: true},
				fsmStep{at: 6 * sec, ev: fsmShutdown(), state: StateInit, noDeadline: true},
				fsmStep{at: 6 * sec, ev: fsmRx(50, fsmLow, sec), state: StateInit, noDeadline: true},
				fsmStep{at: 7 * sec, ev: fsmStart(), want: []Action{RemoveVIPs{}, fsmTr(StateInit, StateBackup, "startup", 7*sec)}, state: StateBackup, deadline: 7*sec + down},
			),
		},
		{
			name: "shutdown of a backup only reports the stop",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmShutdown(), want: []Action{fsmTr(StateBackup, StateInit, "shutdown", sec)}, state: StateInit, noDeadline: true},
			},
		},
		{
			name: "ForceState moves through MASTER, BACKUP and FAULT",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmForce(StateMaster, "g"), state: StateInit, noDeadline: true}, // not started
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmForce(StateMaster, "group"), want: fsmBecomeMaster(100, StateBackup, "group", sec), state: StateMaster, deadline: 2 * sec},
				{at: sec, ev: fsmForce(StateMaster, "again"), state: StateMaster, deadline: 2 * sec},
				{at: 2 * sec, ev: fsmForce(StateBackup, "group b"), want: []Action{RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "group b", 2*sec)}, state: StateBackup, deadline: 2*sec + down},
				{at: 3 * sec, ev: fsmForce(StateFault, "group f"), want: []Action{fsmTr(StateBackup, StateFault, "group f", 3*sec)}, state: StateFault, noDeadline: true},
				{at: 4 * sec, ev: fsmForce(StateBackup, "group ok"), want: []Action{fsmTr(StateFault, StateBackup, "group ok", 4*sec)}, state: StateBackup, deadline: 4*sec + down},
				{at: 5 * sec, ev: fsmFault(true, "own"), want: []Action{fsmTr(StateBackup, StateFault, "own", 5*sec)}, state: StateFault, noDeadline: true},
				{at: 6 * sec, ev: fsmForce(StateBackup, "group ok"), state: StateFault, noDeadline: true},
				{at: 6 * sec, ev: fsmForce(StateMaster, "group m"), state: StateFault, noDeadline: true},
			},
		},
		{
			name: "ForceState to FAULT from MASTER sends priority 0",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmForce(StateFault, "group f"), want: []Action{SendAdvert{Priority: 0}, RemoveVIPs{}, fsmTr(StateMaster, StateFault, "group f", 5*sec)}, state: StateFault, noDeadline: true},
			),
		},
		{
			name: "ForceState to MASTER still reads the grant and asks for a claim",
			p: fsmWith(fsmV2(100), func(p *Params) {
				p.Grant = func(time.Time) bool { return false }
			}),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmForce(StateMaster, "group"), want: []Action{Claim{Priority: 100}, TakeoverDenied{Reason: "waiting for the arbiter", At: fsmAt(sec)}}, state: StateBackup, deadline: sec + down},
			},
		},
	})
}

func TestLastTransitionAndDenial(t *testing.T) {
	denied := true
	m := NewMachine(fsmWith(fsmV2(100), func(p *Params) {
		p.Grant = func(time.Time) bool { return !denied }
	}))
	m.Start(fsmT0)
	down := m.MasterDownInterval()
	m.Tick(fsmAt(down))
	if got, want := m.DeniedReason(), "waiting for the arbiter"; got != want {
		t.Errorf("DeniedReason() = %q, want %q", got, want)
	}
	if diff := cmp.Diff(fsmTr(StateInit, StateBackup, "startup", 0), m.LastTransition()); diff != "" {
		t.Errorf("LastTransition() after denial (-want +got):\n%s", diff)
	}
	denied = false
	m.Tick(fsmAt(2 * down))
	if got := m.DeniedReason(); got != "" {
		t.Errorf("DeniedReason() after takeover = %q, want empty", got)
	}
	if diff := cmp.Diff(fsmTr(StateBackup, StateMaster, "master down timer expired", 2*down), m.LastTransition()); diff != "" {
		t.Errorf("LastTransition() (-want +got):\n%s", diff)
	}
	if on, why := m.Fault(); on || why != "" {
		t.Errorf("Fault() = %v, %q", on, why)
	}
}

func fsmReconfigure(p Params) fsmEvent {
	return func(m *Machine, now time.Time) []Action { m.Reconfigure(now, p); return nil }
}

// TestMachineReconfigure: a reload changes a running machine in place; it
// never moves the state by itself (keepalived's reload_master).
func TestMachineReconfigure(t *testing.T) {
	sec := time.Second
	down := 3*sec + fsmSkew100
	fast := fsmWith(fsmV2(100), func(p *Params) { p.AdvertInterval = 200 * time.Millisecond })
	slow := fsmWith(fsmV2(100), func(p *Params) { p.AdvertInterval = 2 * sec })
	fsmRunCases(t, []fsmCase{
		{
			name: "a master advertises at the new interval within one new interval",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 4 * sec, ev: fsmReconfigure(fast), state: StateMaster, deadline: 4*sec + 200*time.Millisecond},
				fsmStep{at: 4*sec + 200*time.Millisecond, ev: fsmTick(), want: []Action{SendAdvert{Priority: 100}}, state: StateMaster, deadline: 4*sec + 400*time.Millisecond},
			),
		},
		{
			name: "a master with a longer interval keeps its next advert",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 4 * sec, ev: fsmReconfigure(slow), state: StateMaster, deadline: 4*sec + fsmSkew100},
				fsmStep{at: 4*sec + fsmSkew100, ev: fsmTick(), want: []Action{SendAdvert{Priority: 100}}, state: StateMaster, deadline: 6*sec + fsmSkew100},
			),
		},
		{
			name: "a backup's down timer restarts with the new interval",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: 3 * sec, ev: fsmReconfigure(slow), state: StateBackup, deadline: 3*sec + 6*sec + fsmSkew100},
				{at: down, ev: fsmTick(), state: StateBackup, deadline: 9*sec + fsmSkew100},
			},
		},
		{
			name: "a reload alone never makes a backup take over sooner",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				// The old timer would fire at 3.61 s: the new one needs a whole
				// new Master_Down_Interval (0.6 s + skew) from the reload.
				{at: 3 * sec, ev: fsmReconfigure(fast), state: StateBackup, deadline: 3*sec + 600*time.Millisecond + fsmSkew100},
			},
		},
		{
			name: "becoming the address owner takes priority 255",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 4 * sec, ev: fsmReconfigure(fsmV2(255)), state: StateMaster, deadline: 4*sec + fsmSkew100},
				fsmStep{at: 4*sec + fsmSkew100, ev: fsmTick(), want: []Action{SendAdvert{Priority: 255}}, state: StateMaster, deadline: 5*sec + fsmSkew100},
			),
		},
	})
}

func fsmHold(until time.Duration) fsmEvent {
	return func(m *Machine, now time.Time) []Action { m.HoldMastership(fsmAt(until)); return nil }
}

// TestMachineStartupDelay: vrrp_startup_delay keeps every machine out of
// MASTER until it ends; one that wanted MASTER meanwhile takes over then.
func TestMachineStartupDelay(t *testing.T) {
	sec := time.Second
	down := 3*sec + fsmSkew100
	fsmRunCases(t, []fsmCase{
		{
			name: "the down timer waits for the end of the delay",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmHold(5 * sec), state: StateInit, noDeadline: true},
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: down, ev: fsmTick(), state: StateBackup, deadline: 5 * sec},
				{at: 5 * sec, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master down timer expired", 5*sec), state: StateMaster, deadline: 6 * sec},
			},
		},
		{
			name: "an address owner with state MASTER waits too",
			p:    fsmWith(fsmV2(255), func(p *Params) { p.WantMaster = true }),
			steps: []fsmStep{
				{at: 0, ev: fsmHold(5 * sec), state: StateInit, noDeadline: true},
				{at: 0, ev: fsmStart(), want: []Action{RemoveVIPs{}, fsmTr(StateInit, StateBackup, "vrrp_startup_delay", 0)}, state: StateBackup, deadline: 5 * sec},
				{at: 5 * sec, ev: fsmTick(), want: fsmBecomeMaster(255, StateBackup, "master down timer expired", 5*sec), state: StateMaster, deadline: 6 * sec},
			},
		},
		{
			name: "a master heard during the delay is followed as usual",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmHold(5 * sec), state: StateInit, noDeadline: true},
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: sec + down},
			},
		},
	})
}
