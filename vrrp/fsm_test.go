package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The fake clock is just time values: every input carries its own "now".
var fsmT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fsmAt(d time.Duration) time.Time { return fsmT0.Add(d) }

func fsmMs(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

var (
	fsmSelf    = netip.MustParseAddr("10.0.0.2")
	fsmLow     = netip.MustParseAddr("10.0.0.1") // below addrSelf
	fsmHigh    = netip.MustParseAddr("10.0.0.3") // above addrSelf
	fsmSkew100 = fsmMs(609.375)                  // (256-100)/256 s
)

// fsmCmp compares netip.Addr (unexported fields) by value.
var fsmCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// An fsmEvent feeds one input to the machine at now.
type fsmEvent func(m *Machine, now time.Time) []Action

func fsmStart() fsmEvent { return func(m *Machine, now time.Time) []Action { return m.Start(now) } }
func fsmTick() fsmEvent  { return func(m *Machine, now time.Time) []Action { return m.Tick(now) } }
func fsmRx(prio uint8, src netip.Addr, interval time.Duration) fsmEvent {
	return func(m *Machine, now time.Time) []Action {
		return m.ReceiveAdvert(now, AdvertInfo{Priority: prio, Src: src, Interval: interval})
	}
}
func fsmSetPrio(p uint8) fsmEvent {
	return func(m *Machine, now time.Time) []Action { return m.SetPriority(now, p) }
}
func fsmFault(on bool, reason string) fsmEvent {
	return func(m *Machine, now time.Time) []Action { return m.SetFault(now, on, reason) }
}
func fsmShutdown() fsmEvent {
	return func(m *Machine, now time.Time) []Action { return m.Shutdown(now) }
}
func fsmForce(s State, reason string) fsmEvent {
	return func(m *Machine, now time.Time) []Action { return m.ForceState(now, s, reason) }
}

// fsmStep is one input and what must come out of it. deadline is an offset
// from fsmT0; noDeadline asserts that no timer runs.
type fsmStep struct {
	at         time.Duration
	ev         fsmEvent
	want       []Action
	state      State
	deadline   time.Duration
	noDeadline bool
}

func fsmTr(from, to State, reason string, d time.Duration) Transition {
	return Transition{From: from, To: to, Reason: reason, At: fsmAt(d)}
}

func fsmBecomeMaster(prio uint8, from State, reason string, d time.Duration) []Action {
	return []Action{SendAdvert{Priority: prio}, AddVIPs{}, Announce{}, fsmTr(from, StateMaster, reason, d)}
}

// fsmPreemptMaster is a takeover from a live lower-priority master at
// from: the VIPs wait for it to let go.
func fsmPreemptMaster(prio uint8, from string, reason string, d time.Duration) []Action {
	return []Action{SendAdvert{Priority: prio}, AddVIPs{Preempted: netip.MustParseAddr(from)}, Announce{}, fsmTr(StateBackup, StateMaster, reason, d)}
}

func fsmStartBackup() []Action {
	return []Action{RemoveVIPs{}, fsmTr(StateInit, StateBackup, "startup", 0)}
}

// fsmV2 is a preempting keepalived-default instance at fsmSelf.
func fsmV2(prio uint8) Params {
	return Params{Name: "VI_1", Version: 2, Priority: prio, AdvertInterval: time.Second, Preempt: true, PrimaryAddr: fsmSelf}
}

func fsmV3(prio uint8, interval time.Duration) Params {
	p := fsmV2(prio)
	p.Version, p.AdvertInterval = 3, interval
	return p
}

func fsmWith(p Params, f func(*Params)) Params { f(&p); return p }

// fsmMasterSteps bring a v2 priority-100 machine to MASTER at its first down
// timer expiry (3.609375 s).
var fsmMasterSteps = []fsmStep{
	{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3*time.Second + fsmSkew100},
	{at: 3*time.Second + fsmSkew100, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master down timer expired", 3*time.Second+fsmSkew100),
		state: StateMaster, deadline: 4*time.Second + fsmSkew100},
}

func fsmRun(t *testing.T, m *Machine, steps []fsmStep) {
	t.Helper()
	for i, s := range steps {
		got := s.ev(m, fsmAt(s.at))
		if diff := cmp.Diff(s.want, got, fsmCmp); diff != "" {
			t.Fatalf("step %d (at %v): actions mismatch (-want +got):\n%s", i, s.at, diff)
		}
		if m.State() != s.state {
			t.Fatalf("step %d (at %v): state %v, want %v", i, s.at, m.State(), s.state)
		}
		var want time.Time
		if !s.noDeadline {
			want = fsmAt(s.deadline)
		}
		if got := m.NextDeadline(); !got.Equal(want) {
			t.Fatalf("step %d (at %v): deadline %v, want %v", i, s.at, got.Sub(fsmT0), want.Sub(fsmT0))
		}
	}
}

func TestMasterDownInterval(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		eff  uint8 // SetPriority before measuring; 0 = none
		want time.Duration
	}{
		{"v2 prio 100 adv 1s", fsmV2(100), 0, 3*time.Second + 156*time.Second/256},
		{"v3 prio 100 adv 1s", fsmV3(100, time.Second), 0, 3*time.Second + fsmMs(609.375)},
		{"v2 skew ignores interval", fsmWith(fsmV2(100), func(p *Params) { p.AdvertInterval = 2 * time.Second }), 0, 6*time.Second + fsmMs(609.375)},
		{"v3 skew scales with interval", fsmV3(100, 2*time.Second), 0, 6*time.Second + fsmMs(1218.75)},
		{"v3 prio 200 adv 100ms", fsmV3(200, 100*time.Millisecond), 0, 300*time.Millisecond + fsmMs(21.875)},
		{"v2 prio 254", fsmV2(254), 0, 3*time.Second + fsmMs(7.8125)},
		{"v2 owner", fsmV2(255), 0, 3*time.Second + fsmMs(3.90625)},
		{"v2 owner ignores tracking", fsmV2(255), 50, 3*time.Second + fsmMs(3.90625)},
		{"v2 effective priority", fsmV2(100), 150, 3*time.Second + 106*time.Second/256},
		{"down_timer_adverts 5", fsmWith(fsmV2(100), func(p *Params) { p.DownTimerAdverts = 5 }), 0, 5*time.Second + fsmMs(609.375)},
		{"zero Params", Params{}, 0, 3*time.Second + fsmMs(609.375)},
		{"DefaultParams", DefaultParams(), 0, 3*time.Second + fsmMs(609.375)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(tt.p)
			if tt.eff != 0 {
				m.SetPriority(fsmT0, tt.eff)
			}
			if got := m.MasterDownInterval(); got != tt.want {
				t.Errorf("MasterDownInterval() = %v, want %v", got, tt.want)
			}
			// Start arms exactly that interval (or owner+MASTER is master).
			m.Start(fsmT0)
			if got := m.NextDeadline().Sub(fsmT0); got != tt.want {
				t.Errorf("deadline after Start = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateInit: "INIT", StateBackup: "BACKUP", StateMaster: "MASTER", StateFault: "FAULT", 9: "UNKNOWN"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

// fsmCase is a script of inputs to one machine; check runs at the end.
type fsmCase struct {
	name  string
	p     Params
	steps []fsmStep
	check func(t *testing.T, m *Machine)
}

func fsmRunCases(t *testing.T, cases []fsmCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(tt.p)
			fsmRun(t, m, tt.steps)
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

// TestMachineElection covers timers, adverts, preemption and tracking.
func TestMachineElection(t *testing.T) {
	down := 3*time.Second + fsmSkew100 // v2, prio 100, adv 1 s
	sec := time.Second
	fsmRunCases(t, []fsmCase{
		{
			name: "backup times out and becomes master, then advertises every interval",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 4*sec + fsmSkew100 - 1, ev: fsmTick(), state: StateMaster, deadline: 4*sec + fsmSkew100},
				fsmStep{at: 4*sec + fsmSkew100, ev: fsmTick(), want: []Action{SendAdvert{Priority: 100}}, state: StateMaster, deadline: 5*sec + fsmSkew100},
			),
			check: func(t *testing.T, m *Machine) {
				if m.MasterAddr() != fsmSelf {
					t.Errorf("MasterAddr() = %v, want ourselves", m.MasterAddr())
				}
			},
		},
		{
			name: "early tick does nothing",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: down - 1, ev: fsmTick(), state: StateBackup, deadline: down},
			},
		},
		{
			name: "state MASTER below 255 still starts BACKUP and waits a full interval",
			p:    fsmWith(fsmV2(150), func(p *Params) { p.WantMaster = true }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3*sec + 106*sec/256},
				{at: 3*sec + 106*sec/256, ev: fsmTick(), want: fsmBecomeMaster(150, StateBackup, "master down timer expired", 3*sec+106*sec/256), state: StateMaster, deadline: 4*sec + 106*sec/256},
			},
		},
		{
			name: "address owner with state MASTER is master at once",
			p:    fsmWith(fsmV2(255), func(p *Params) { p.WantMaster = true }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmBecomeMaster(255, StateInit, "address owner (priority 255) with state MASTER", 0), state: StateMaster, deadline: sec},
				{at: sec, ev: fsmStart(), state: StateMaster, deadline: sec}, // already started
			},
		},
		{
			name: "address owner without state MASTER waits",
			p:    fsmV2(255),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3*sec + sec/256},
			},
		},
		{
			name: "backup accepts higher advert and restarts the down timer",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: sec + down},
				{at: 2 * sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: 2*sec + down},
				{at: 2*sec + down, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master down timer expired", 2*sec+down), state: StateMaster, deadline: 3*sec + down},
			},
		},
		{
			name: "backup accepts equal priority whatever the address (no preemption at equal priority)",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: sec + down},
				{at: 2 * sec, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 2*sec + down},
			},
		},
		{
			name: "preempt: lower adverts are discarded and the down timer fires",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: down},
				{at: 2 * sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: down},
				{at: 3 * sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: down},
				{at: down, ev: fsmTick(), want: fsmPreemptMaster(100, "10.0.0.1", "preempting lower priority master 10.0.0.1 (prio 50)", down), state: StateMaster, deadline: sec + down},
			},
		},
		{
			name: "preempt: a lower master that leaves (priority 0) is not waited for",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: down},
				{at: 2 * sec, ev: fsmRx(0, fsmLow, sec), state: StateBackup, deadline: 2*sec + fsmSkew100},
				{at: 2*sec + fsmSkew100, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master 10.0.0.1 sent priority 0", 2*sec+fsmSkew100), state: StateMaster, deadline: 3*sec + fsmSkew100},
			},
		},
		{
			name: "nopreempt keeps a lower master",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.Preempt = false }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: sec + down},
				{at: 2 * sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: 2*sec + down},
				{at: 3 * sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: 3*sec + down},
				{at: 3*sec + down - 1, ev: fsmTick(), state: StateBackup, deadline: 3*sec + down},
			},
			check: func(t *testing.T, m *Machine) {
				if m.MasterAddr() != fsmLow {
					t.Errorf("MasterAddr() = %v, want %v", m.MasterAddr(), fsmLow)
				}
			},
		},
		{
			name: "nopreempt does not stop a master from yielding to a higher advert",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.Preempt = false }),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(150, fsmLow, sec), want: []Action{RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "higher priority advert from 10.0.0.1 (prio 150)", 5*sec)}, state: StateBackup, deadline: 5*sec + down},
			),
		},
		{
			name: "state MASTER clears nopreempt",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.Preempt, p.WantMaster = false, true }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(50, fsmLow, sec), state: StateBackup, deadline: down},
			},
		},
		{
			name: "priority 0 sets the down timer to skew only (v2)",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: sec + down},
				{at: 1500 * time.Millisecond, ev: fsmRx(0, fsmHigh, sec), state: StateBackup, deadline: 1500*time.Millisecond + fsmSkew100},
				{at: 1500*time.Millisecond + fsmSkew100, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master 10.0.0.3 sent priority 0", 1500*time.Millisecond+fsmSkew100),
					state: StateMaster, deadline: 2500*time.Millisecond + fsmSkew100},
			},
		},
		{
			name: "v3 priority 0 skew uses the learnt interval",
			p:    fsmV3(100, sec),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, 2*sec), state: StateBackup, deadline: 7*sec + fsmMs(1218.75)},
				{at: 2 * sec, ev: fsmRx(0, fsmHigh, 2*sec), state: StateBackup, deadline: 2*sec + fsmMs(1218.75)},
			},
		},
		{
			name: "v3 backup adopts the master's advert interval",
			p:    fsmV3(100, sec),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, 500*time.Millisecond), state: StateBackup, deadline: sec + 1500*time.Millisecond + fsmMs(304.6875)},
			},
			check: func(t *testing.T, m *Machine) {
				if got := m.AdvertInterval(); got != 500*time.Millisecond {
					t.Errorf("AdvertInterval() = %v, want 500ms", got)
				}
			},
		},
		{
			name: "v3 backup does not learn from a discarded lower advert",
			p:    fsmV3(100, sec),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(50, fsmLow, 500*time.Millisecond), state: StateBackup, deadline: down},
			},
			check: func(t *testing.T, m *Machine) {
				if got := m.AdvertInterval(); got != sec {
					t.Errorf("AdvertInterval() = %v, want 1s", got)
				}
			},
		},
		{
			name: "v2 uses its own interval whatever the advert says",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: sec, ev: fsmRx(150, fsmHigh, 2*sec), state: StateBackup, deadline: sec + down},
			},
		},
		{
			name: "master yields to a higher priority advert",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(150, fsmLow, sec), want: []Action{RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "higher priority advert from 10.0.0.1 (prio 150)", 5*sec)}, state: StateBackup, deadline: 5*sec + down},
			),
			check: func(t *testing.T, m *Machine) {
				if m.MasterAddr() != fsmLow {
					t.Errorf("MasterAddr() = %v, want %v", m.MasterAddr(), fsmLow)
				}
			},
		},
		{
			name: "master yields to equal priority from a higher address",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(100, fsmHigh, sec), want: []Action{RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "equal priority advert from higher address 10.0.0.3 (prio 100)", 5*sec)}, state: StateBackup, deadline: 5*sec + down},
			),
		},
		{
			name: "master keeps mastership against equal priority from a lower address",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(100, fsmLow, sec), want: []Action{SendAdvert{Priority: 100}, RxLowerPrio{Src: fsmLow, Priority: 100}}, state: StateMaster, deadline: 6 * sec},
			),
		},
		{
			name: "master forces a new election on a lower advert",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(50, fsmHigh, sec), want: []Action{SendAdvert{Priority: 100}, RxLowerPrio{Src: fsmHigh, Priority: 50}}, state: StateMaster, deadline: 6 * sec},
			),
		},
		{
			name: "lower_prio_no_advert: no advert, timer unchanged",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.LowerPrioNoAdvert = true }),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(50, fsmHigh, sec), want: []Action{RxLowerPrio{Src: fsmHigh, Priority: 50}}, state: StateMaster, deadline: 4*sec + fsmSkew100},
			),
		},
		{
			name: "master answers priority 0 with an advert at once",
			p:    fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 4 * sec, ev: fsmRx(0, fsmHigh, sec), want: []Action{SendAdvert{Priority: 100}}, state: StateMaster, deadline: 5 * sec},
			),
		},
		{
			name: "higher_prio_send_advert sends one advert before yielding",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.HigherPrioSendAdvert = true }),
			steps: append(append([]fsmStep{}, fsmMasterSteps...),
				fsmStep{at: 5 * sec, ev: fsmRx(200, fsmHigh, sec), want: []Action{SendAdvert{Priority: 100}, RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "higher priority advert from 10.0.0.3 (prio 200)", 5*sec)}, state: StateBackup, deadline: 5*sec + down},
			),
		},
		{
			name: "v3 master yielding adopts the new master's interval",
			p:    fsmV3(100, sec),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: down, ev: fsmTick(), want: fsmBecomeMaster(100, StateBackup, "master down timer expired", down), state: StateMaster, deadline: sec + down},
				{at: 5 * sec, ev: fsmRx(200, fsmHigh, 2*sec), want: []Action{RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "higher priority advert from 10.0.0.3 (prio 200)", 5*sec)}, state: StateBackup, deadline: 11*sec + fsmMs(1218.75)},
			},
		},
		{
			name:  "master ignores an equal advert from its own address",
			p:     fsmV2(100),
			steps: append(append([]fsmStep{}, fsmMasterSteps...), fsmStep{at: 4 * sec, ev: fsmRx(100, fsmSelf, sec), state: StateMaster, deadline: 4*sec + fsmSkew100}),
		},
		{
			// man5: "if advert_int is 1 and priority is 128 the instance would
			// normally wait 3.5 s ... with preempt_delay 2 approximately 5.5 s".
			// keepalived accepts lower adverts until preempt_time and then
			// lets the down timer (armed by the last accepted one) run out.
			name: "preempt_delay keeps accepting a lower master, then preempts",
			p:    fsmWith(fsmV2(128), func(p *Params) { p.PreemptDelay = 2 * sec }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3500 * time.Millisecond},
				{at: 500 * time.Millisecond, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 4 * sec},  // delay starts: until 2.5 s
				{at: 1500 * time.Millisecond, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 5 * sec}, // still accepted
				{at: 2500 * time.Millisecond, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 5 * sec}, // delay over: discarded
				{at: 3500 * time.Millisecond, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 5 * sec}, // discarded
				{at: 5 * sec, ev: fsmTick(), want: fsmPreemptMaster(128, "10.0.0.1", "preempting lower priority master 10.0.0.1 (prio 100)", 5*sec), state: StateMaster, deadline: 6 * sec},
			},
		},
		{
			name: "preempt_delay: a higher advert cancels the delay, the next lower one restarts it",
			p:    fsmWith(fsmV2(128), func(p *Params) { p.PreemptDelay = 2 * sec }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3500 * time.Millisecond},
				{at: 500 * time.Millisecond, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 4 * sec},  // delay until 2.5 s
				{at: sec, ev: fsmRx(200, fsmHigh, sec), state: StateBackup, deadline: 4500 * time.Millisecond},    // cancelled
				{at: 2 * sec, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 5500 * time.Millisecond}, // restarted: until 4 s
				{at: 3 * sec, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 6500 * time.Millisecond},
				{at: 4 * sec, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 6500 * time.Millisecond}, // discarded
				{at: 6500 * time.Millisecond, ev: fsmTick(), want: fsmPreemptMaster(128, "10.0.0.1", "preempting lower priority master 10.0.0.1 (prio 100)", 6500*time.Millisecond), state: StateMaster, deadline: 7500 * time.Millisecond},
			},
		},
		{
			name: "preempt_delay is ignored with state MASTER",
			p:    fsmWith(fsmV2(128), func(p *Params) { p.PreemptDelay, p.WantMaster = 2*sec, true }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3500 * time.Millisecond},
				{at: 500 * time.Millisecond, ev: fsmRx(100, fsmLow, sec), state: StateBackup, deadline: 3500 * time.Millisecond},
			},
		},
		{
			name: "a backup whose priority rises above the master's preempts when the timer runs out",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: 10 * sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: 10*sec + down},
				// Skew falls from 156/256 s to 56/256 s: the timer moves with it.
				{at: 10500 * time.Millisecond, ev: fsmSetPrio(200), state: StateBackup, deadline: 13*sec + 56*sec/256},
				{at: 11 * sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: 13*sec + 56*sec/256},
				{at: 12 * sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: 13*sec + 56*sec/256},
				{at: 13*sec + 56*sec/256, ev: fsmTick(), want: fsmPreemptMaster(200, "10.0.0.3", "preempting lower priority master 10.0.0.3 (prio 150)", 13*sec+56*sec/256), state: StateMaster, deadline: 14*sec + 56*sec/256},
			},
		},
		{
			name: "nopreempt: a risen backup keeps the master",
			p:    fsmWith(fsmV2(100), func(p *Params) { p.Preempt = false }),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: down},
				{at: 10 * sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: 10*sec + down},
				{at: 10500 * time.Millisecond, ev: fsmSetPrio(200), state: StateBackup, deadline: 13*sec + 56*sec/256},
				{at: 11 * sec, ev: fsmRx(150, fsmHigh, sec), state: StateBackup, deadline: 14*sec + 56*sec/256},
			},
		},
		{
			name: "a master whose priority drops advertises it and yields to a better advert",
			p:    fsmV2(150),
			steps: []fsmStep{
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3*sec + 106*sec/256},
				{at: 3*sec + 106*sec/256, ev: fsmTick(), want: fsmBecomeMaster(150, StateBackup, "master down timer expired", 3*sec+106*sec/256), state: StateMaster, deadline: 4*sec + 106*sec/256},
				{at: 4 * sec, ev: fsmSetPrio(80), state: StateMaster, deadline: 4*sec + 106*sec/256},
				{at: 4*sec + 106*sec/256, ev: fsmTick(), want: []Action{SendAdvert{Priority: 80}}, state: StateMaster, deadline: 5*sec + 106*sec/256},
				{at: 5 * sec, ev: fsmRx(100, fsmLow, sec), want: []Action{RemoveVIPs{}, fsmTr(StateMaster, StateBackup, "higher priority advert from 10.0.0.1 (prio 100)", 5*sec)}, state: StateBackup, deadline: 8*sec + 176*sec/256},
			},
		},
		{
			name: "effective priority is clamped to 1..254",
			p:    fsmV2(100),
			steps: []fsmStep{
				{at: 0, ev: fsmSetPrio(255), noDeadline: true},
				{at: 0, ev: fsmStart(), want: fsmStartBackup(), state: StateBackup, deadline: 3*sec + 2*sec/256},
				{at: 0, ev: fsmSetPrio(0), state: StateBackup, deadline: 3*sec + 255*sec/256},
			},
		},
	})
}

// TestHeardMaster: a backup knows a live master advertises, also one it is
// about to preempt, for one Master_Down_Interval after its last advert.
func TestHeardMaster(t *testing.T) {
	m := NewMachine(fsmV2(150))
	m.Start(fsmT0)
	if m.HeardMaster(fsmT0) {
		t.Fatal("heard a master before any advert")
	}
	src := netip.MustParseAddr("192.0.2.2")
	m.ReceiveAdvert(fsmT0.Add(time.Second), AdvertInfo{Src: src, Priority: 100}) // lower: preempted
	if !m.HeardMaster(fsmT0.Add(2 * time.Second)) {
		t.Error("a lower-priority master advertising a second ago is not heard")
	}
	if m.HeardMaster(fsmT0.Add(time.Second + m.MasterDownInterval())) {
		t.Error("still heard one Master_Down_Interval after its last advert")
	}
}
