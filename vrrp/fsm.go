package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// The per-instance VRRP state machine of RFC 5798 §6 / RFC 3768 §6 with
// keepalived's deviations (docs: shared/background/keepalived-behaviour.md
// §1.1-1.4). It is pure: every input carries the current time, every output
// is a list of Actions, and the caller owns sockets, addresses and timers
// (it calls Tick at NextDeadline). A Machine is not safe for concurrent use.

const (
	fsmOwnerPrio        = 255 // the address owner (RFC 5798 §6.1)
	fsmDefaultPrio      = 100 // keepalived VRRP_PRIO_DFL
	fsmDefaultAdverts   = 3   // keepalived down_timer_adverts default
	fsmDefaultInterval  = time.Second
	fsmDefaultVersion   = 2
	fsmReasonDownExpiry = "master down timer expired"
	fsmReasonNoGrant    = "waiting for the arbiter"
)

// Params configures one Machine. Zero values of Version, Priority,
// AdvertInterval and DownTimerAdverts mean keepalived's defaults (2, 100,
// 1 s, 3); the zero Preempt is nopreempt, so start from DefaultParams.
type Params struct {
	// Name is the vrrp_instance name, used in reasons only.
	Name string
	// Version is 3 for RFC 5798 timers (skew scales with the interval,
	// backups learn the master's interval); anything else is RFC 3768.
	Version int
	// Priority is the configured (base) priority; 255 makes this router
	// the address owner, whose priority tracking never changes.
	Priority       uint8
	AdvertInterval time.Duration
	// Preempt is keepalived's default; false is nopreempt: a backup then
	// accepts adverts of any priority and never preempts a live master.
	Preempt bool
	// PreemptDelay lets a backup keep accepting a lower-priority master
	// for this long after the first lower-priority advert it sees; it
	// preempts one Master_Down_Interval after the last advert it accepted.
	// A higher or equal advert cancels the delay. It plays no part at start
	// when no advert is heard (keepalived vrrp.c:2228-2265).
	PreemptDelay time.Duration
	// WantMaster is `state MASTER`. Only an address owner becomes master
	// at once; everyone else starts BACKUP and waits (in a sync group less).
	WantMaster bool
	// PrimaryAddr is the address our adverts come from; at equal priority
	// the higher address wins.
	PrimaryAddr      netip.Addr
	DownTimerAdverts int
	// LowerPrioNoAdvert stops a master from answering a lower-priority
	// advert with its own (strict mode, RFCs before RFC 9568).
	LowerPrioNoAdvert bool
	// HigherPrioSendAdvert makes a master send one advert before stepping
	// down to a higher-priority one, so the winner re-announces.
	HigherPrioSendAdvert bool
	// Grant reads the mastership gate (the arbiter): every move into
	// MASTER needs it to report a valid grant at now. Without one the
	// machine returns Claim and stays BACKUP; the caller asks the arbiter
	// and retries when it answers. nil always allows.
	Grant func(now time.Time) bool
}

// DefaultParams returns keepalived's defaults: VRRPv2, priority 100,
// advert_int 1, preempt, down_timer_adverts 3.
func DefaultParams() Params {
	return Params{
		Version:          fsmDefaultVersion,
		Priority:         fsmDefaultPrio,
		AdvertInterval:   fsmDefaultInterval,
		Preempt:          true,
		DownTimerAdverts: fsmDefaultAdverts,
	}
}

// Machine is one VRRP instance's state machine. Create it with NewMachine.
type Machine struct {
	p       Params // normalised by NewMachine
	state   State
	prio    uint8         // effective priority
	advInt  time.Duration // Master_Adver_Interval: ours, or the master's (v3)
	master  netip.Addr    // last known master
	fault   bool          // our own fault; a sync group can also force FAULT
	faultBy string

	// deadline is the down timer in BACKUP and the next advert in MASTER.
	deadline time.Time
	// downReason is why the down timer will make us master when it fires.
	downReason string
	// preempted is the live lower-priority master a running down timer
	// will preempt (invalid when it will not preempt anyone).
	preempted netip.Addr
	// preemptAt is keepalived's preempt_time: zero while no preempt delay
	// is running.
	preemptAt time.Time
	// wantMaster is keepalived's wantstate == MASTER, which sync groups
	// consult: all members must want MASTER before one may take it.
	wantMaster bool

	// heard is when a live master's advert (priority > 0) last arrived
	// in BACKUP, preempted or not.
	heard time.Time

	last   Transition
	denied string
	// preemptHold makes this backup behave as nopreempt until it next
	// becomes master (an operator handover must not be undone).
	preemptHold bool
	// holdUntil: no move into MASTER before it (vrrp_startup_delay).
	holdUntil time.Time
	group     *SyncGroup
}

// NewMachine returns a machine in StateInit. It applies keepalived's
// configuration rules (vrrp.c vrrp_complete_instance) so the behaviour is
// keepalived's even when the caller did not: an address owner and a `state
// MASTER` instance always preempt, and preempt_delay is ignored with `state
// MASTER` or nopreempt.
func NewMachine(p Params) *Machine {
	p = normalise(p)
	return &Machine{p: p, prio: p.Priority, advInt: p.AdvertInterval}
}

// normalise fills keepalived's defaults and applies its configuration
// rules (see NewMachine).
func normalise(p Params) Params {
	if p.Version == 0 {
		p.Version = fsmDefaultVersion
	}
	if p.Priority == 0 {
		p.Priority = fsmDefaultPrio
	}
	if p.AdvertInterval <= 0 {
		p.AdvertInterval = fsmDefaultInterval
	}
	if p.DownTimerAdverts <= 0 {
		p.DownTimerAdverts = fsmDefaultAdverts
	}
	if p.Priority == fsmOwnerPrio || p.WantMaster {
		p.Preempt = true
	}
	if p.WantMaster || !p.Preempt {
		p.PreemptDelay = 0
	}
	return p
}

// Reconfigure applies new parameters to a running machine, as keepalived's
// reload does for an instance it keeps (vrrp.c reload_master): the state
// is kept — a master stays master and keeps its VIPs — and the new values
// take effect from the next timer. A master advertises at the new interval
// at the latest one new interval from now; a backup's down timer never
// fires sooner than one new Master_Down_Interval from now, so a reload
// alone cannot make it take over. The effective priority is the caller's
// (SetPriority), except across a change of address-owner status.
func (m *Machine) Reconfigure(now time.Time, p Params) {
	p = normalise(p)
	old := m.p
	m.p = p
	if (old.Priority == fsmOwnerPrio) != (p.Priority == fsmOwnerPrio) {
		m.prio = p.Priority
	}
	if p.PreemptDelay == 0 {
		m.preemptAt = time.Time{}
	}
	switch m.state {
	case StateMaster:
		m.advInt = p.AdvertInterval
		if next := now.Add(p.AdvertInterval); next.Before(m.deadline) {
			m.deadline = next
		}
	case StateBackup:
		if p.Version != 3 || m.heard.IsZero() {
			m.advInt = p.AdvertInterval // a v3 backup keeps the master's interval
		}
		if m.downReason == fsmReasonDownExpiry {
			if d := now.Add(m.MasterDownInterval()); d.After(m.deadline) {
				m.deadline = d
			}
		}
	default:
		m.advInt = p.AdvertInterval
	}
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority (what goes on the wire).
func (m *Machine) Priority() uint8 { return m.prio }

// HeardMaster reports whether a live master advertised within one
// Master_Down_Interval before now: a host answering for the VIPs then is
// that master, not a zombie.
func (m *Machine) HeardMaster(now time.Time) bool {
	return !m.heard.IsZero() && now.Sub(m.heard) < m.MasterDownInterval()
}

// HeardSince reports whether a live master's advert arrived after t.
func (m *Machine) HeardSince(t time.Time) bool { return m.heard.After(t) }

// MasterAddr returns the current master's address as far as we know: ours
// while MASTER, the last advert's source otherwise (invalid if none yet).
func (m *Machine) MasterAddr() netip.Addr { return m.master }

// AdvertInterval returns Master_Adver_Interval: our own interval, or the
// master's as learnt from its v3 adverts.
func (m *Machine) AdvertInterval() time.Duration { return m.advInt }

// LastTransition returns the most recent state change (zero before Start).
func (m *Machine) LastTransition() Transition { return m.last }

// DeniedReason returns why the gate last refused a takeover, until the
// machine changes state; "" when it did not.
func (m *Machine) DeniedReason() string { return m.denied }

// NextDeadline returns when Tick must be called next; zero means no timer
// runs (INIT, FAULT).
func (m *Machine) NextDeadline() time.Time { return m.deadline }

// MasterDownInterval returns the current Master_Down_Interval.
func (m *Machine) MasterDownInterval() time.Duration {
	return time.Duration(m.p.DownTimerAdverts)*m.advInt + m.skew()
}

// skew is Skew_Time with prio 255 for an owner. v2 (RFC 3768 §6.1) does not
// scale it with the interval; v3 (RFC 5798 §6.1) does.
func (m *Machine) skew() time.Duration {
	prio := m.prio
	if m.p.Priority == fsmOwnerPrio {
		prio = fsmOwnerPrio
	}
	return m.skewFor(256 - int(prio))
}

// minSkew is keepalived's VRRP_TIMER_SKEW_MIN: the skew of priority 255.
func (m *Machine) minSkew() time.Duration { return m.skewFor(1) }

func (m *Machine) skewFor(n int) time.Duration {
	if m.p.Version == 3 {
		return time.Duration(n) * m.advInt / 256
	}
	return time.Duration(n) * time.Second / 256
}

// Start leaves INIT: an owner with `state MASTER` takes over at once (via
// the gate); everyone else removes any leftover VIPs and becomes BACKUP,
// waiting a full Master_Down_Interval. With a fault already set it enters
// FAULT. Start on a started machine does nothing.
func (m *Machine) Start(now time.Time) []Action {
	if m.state != StateInit {
		return nil
	}
	m.advInt = m.p.AdvertInterval
	m.preemptAt = time.Time{}
	m.wantMaster = m.p.WantMaster
	switch {
	case m.fault:
		return m.enterFault(now, m.faultBy, false)
	case m.group != nil && m.group.state == StateFault:
		return m.enterFault(now, m.group.faultReason(m), false)
	case m.p.Priority == fsmOwnerPrio && m.p.WantMaster &&
		(m.group == nil || m.group.state == StateMaster):
		return m.takeOver(now, "address owner (priority 255) with state MASTER", false)
	}
	wait := m.MasterDownInterval()
	if m.group != nil && m.wantMaster {
		// keepalived vrrp_scheduler.c:248-251: a sync-group member that
		// wants MASTER only waits long enough to hear an existing master.
		wait = m.advInt + m.minSkew()
	}
	return m.enterBackup(now, now.Add(wait), "startup")
}

// Tick runs the timer that expired at or before now: the master sends its
// periodic advert; a backup's down timer asks to take over.
func (m *Machine) Tick(now time.Time) []Action {
	if m.deadline.IsZero() || now.Before(m.deadline) {
		return nil
	}
	switch m.state {
	case StateMaster:
		m.deadline = now.Add(m.p.AdvertInterval)
		return []Action{SendAdvert{Priority: m.prio}}
	case StateBackup:
		m.wantMaster = true
		return m.takeOver(now, m.downReason, false)
	}
	return nil
}

// ReceiveAdvert processes a validated advert from another router. INIT and
// FAULT ignore adverts, as keepalived does.
func (m *Machine) ReceiveAdvert(now time.Time, adv AdvertInfo) []Action {
	switch m.state {
	case StateBackup:
		m.receiveBackup(now, adv)
	case StateMaster:
		return m.receiveMaster(now, adv)
	}
	return nil
}

// receiveBackup is keepalived's vrrp_state_backup: it only ever moves the
// down timer; the takeover itself happens in Tick.
func (m *Machine) receiveBackup(now time.Time, adv AdvertInfo) {
	if adv.Priority == 0 {
		// The master is leaving: take over after Skew_Time only.
		m.preempted = netip.Addr{}
		m.deadline = now.Add(m.skew())
		m.downReason = fmt.Sprintf("master %s sent priority 0", adv.Src)
		return
	}
	m.heard = now
	lower := adv.Priority < m.prio
	delaying := m.p.PreemptDelay > 0 && (m.preemptAt.IsZero() || m.preemptAt.After(now))
	if lower && m.p.Preempt && !m.preemptHold && !delaying {
		// Discarded: the down timer keeps running from the last advert we
		// accepted, so we preempt when it fires.
		m.master = adv.Src
		m.preempted = adv.Src
		m.downReason = fmt.Sprintf("preempting lower priority master %s (prio %d)", adv.Src, adv.Priority)
		return
	}
	if m.p.Version == 3 && adv.Interval > 0 {
		m.advInt = adv.Interval
	}
	m.master = adv.Src
	m.preempted = netip.Addr{}
	m.deadline = now.Add(m.MasterDownInterval())
	m.downReason = fsmReasonDownExpiry
	m.wantMaster = false
	m.denied = "" // we follow a master now, we are no refused claimant
	if m.p.PreemptDelay > 0 {
		switch {
		case !lower:
			m.preemptAt = time.Time{}
		case m.preemptAt.IsZero():
			m.preemptAt = now.Add(m.p.PreemptDelay)
		}
	}
}

// receiveMaster is keepalived's vrrp_state_master_rx.
func (m *Machine) receiveMaster(now time.Time, adv AdvertInfo) []Action {
	if adv.Priority == 0 {
		// Another master left: make sure backups hear us at once.
		m.deadline = now.Add(m.p.AdvertInterval)
		return []Action{SendAdvert{Priority: m.prio}}
	}
	c := adv.Src.Compare(m.p.PrimaryAddr)
	switch {
	case adv.Priority < m.prio || (adv.Priority == m.prio && c < 0):
		// A lower router thinks it is master: "forcing new election".
		var acts []Action
		if !m.p.LowerPrioNoAdvert {
			m.deadline = now.Add(m.p.AdvertInterval)
			acts = append(acts, SendAdvert{Priority: m.prio})
		}
		return append(acts, RxLowerPrio{Src: adv.Src, Priority: adv.Priority})
	case adv.Priority == m.prio && c == 0:
		return nil // our own address: a misconfiguration keepalived only logs
	}
	var acts []Action
	if m.p.HigherPrioSendAdvert {
		acts = append(acts, SendAdvert{Priority: m.prio})
	}
	if m.p.Version == 3 && adv.Interval > 0 {
		m.advInt = adv.Interval
	}
	m.master = adv.Src
	reason := fmt.Sprintf("higher priority advert from %s (prio %d)", adv.Src, adv.Priority)
	if adv.Priority == m.prio {
		reason = fmt.Sprintf("equal priority advert from higher address %s (prio %d)", adv.Src, adv.Priority)
	}
	return append(acts, m.leaveMaster(now, StateBackup, reason, false)...)
}

// SetPriority sets the effective priority computed by tracking. It is
// clamped to 1..254 and ignored for an address owner (keepalived
// vrrp_set_effective_priority). A backup's running down timer moves by the
// change in Skew_Time; a master just advertises the new priority from its
// next advert on and steps down only when a better advert arrives.
func (m *Machine) SetPriority(now time.Time, effective uint8) []Action {
	if m.p.Priority == fsmOwnerPrio {
		return nil
	}
	effective = min(max(effective, 1), fsmOwnerPrio-1)
	if effective == m.prio {
		return nil
	}
	old := m.skew()
	m.prio = effective
	if m.state == StateBackup && !m.deadline.IsZero() {
		// keepalived shifts by the whole down-timer delta, which is the skew
		// delta except after priority 0, where it would add three intervals.
		m.deadline = m.deadline.Add(m.skew() - old)
	}
	return nil
}

// SetFault enters FAULT (fault true) from any state, or leaves it for
// BACKUP (fault false), where a normal election follows. reason is the
// caller's aggregate of its fault sources ("script chk failed").
func (m *Machine) SetFault(now time.Time, fault bool, reason string) []Action {
	if fault {
		m.fault, m.faultBy = true, reason
		if m.state == StateInit || m.state == StateFault {
			return nil
		}
		return m.enterFault(now, reason, true)
	}
	if !m.fault {
		return nil
	}
	m.fault, m.faultBy = false, ""
	if m.state != StateFault || (m.group != nil && m.group.othersFaulty(m)) {
		return nil
	}
	return m.leaveFault(now, reason)
}

// HoldMastership keeps the machine out of MASTER until until, as
// keepalived's vrrp_startup_delay does for every instance after the daemon
// starts (vrrp.c vrrp_state_goto_master): it listens as BACKUP meanwhile,
// and one that wants MASTER takes over when the hold ends.
func (m *Machine) HoldMastership(until time.Time) { m.holdUntil = until }

// HoldPreempt makes the machine accept lower-priority masters, as with
// nopreempt, until it next becomes master: after an operator handover the
// old master must not preempt the new one back.
func (m *Machine) HoldPreempt() { m.preemptHold = true }

// PreemptHeld reports whether HoldPreempt is in effect.
func (m *Machine) PreemptHeld() bool { return m.preemptHold }

// Fault reports whether our own fault is set, and its reason.
func (m *Machine) Fault() (bool, string) { return m.fault, m.faultBy }

// Shutdown stops the instance (SIGTERM): a master sends priority 0 so a
// backup takes over after Skew_Time, and removes its VIPs. The machine is
// back in INIT and may be started again.
func (m *Machine) Shutdown(now time.Time) []Action {
	if m.state == StateInit {
		return nil
	}
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, SendAdvert{Priority: 0}, RemoveVIPs{})
	}
	return append(acts, m.transition(now, StateInit, "shutdown"))
}

// ForceState is how a sync group moves a member with the rest of the group
// (keepalived vrrp_sync.c): to MASTER at once (still through the gate), to
// BACKUP (a master steps down without priority 0; a group-forced FAULT is
// left), or to FAULT. It refuses to leave FAULT while our own fault is set,
// and it does nothing in INIT.
func (m *Machine) ForceState(now time.Time, to State, reason string) []Action {
	if m.state == StateInit || m.state == to {
		return nil
	}
	switch to {
	case StateMaster:
		if m.fault {
			return nil
		}
		return m.takeOver(now, reason, true)
	case StateBackup:
		switch {
		case m.state == StateMaster:
			return m.leaveMaster(now, StateBackup, reason, false)
		case !m.fault:
			return m.leaveFault(now, reason)
		}
	case StateFault:
		return m.enterFault(now, reason, true)
	}
	return nil
}

// takeOver is the one way into MASTER. A sync group that is not ready keeps
// us BACKUP (unless the group itself is moving us); then the gate decides.
// Denied, we stay (or become) BACKUP with the down timer re-armed.
func (m *Machine) takeOver(now time.Time, reason string, byGroup bool) []Action {
	if now.Before(m.holdUntil) {
		m.wantMaster = true
		if m.state == StateBackup {
			m.deadline = m.holdUntil
			return nil
		}
		return m.enterBackup(now, m.holdUntil, "vrrp_startup_delay")
	}
	if m.group != nil && !byGroup && !m.group.canGoMaster(m) {
		// keepalived vrrp_sync_can_goto_master: wait for the others.
		m.wantMaster = true
		return m.rearm(now, nil)
	}
	if m.p.Grant != nil && !m.p.Grant(now) {
		acts := []Action{Claim{Priority: m.prio}}
		return append(acts, m.rearm(now, &TakeoverDenied{Reason: fsmReasonNoGrant, At: now})...)
	}
	// A master we preempt and still hear holds the VIPs until our advert
	// reaches it; one whose adverts stopped is gone.
	var preempted netip.Addr
	if m.preempted.IsValid() && m.HeardMaster(now) {
		preempted = m.preempted
	}
	m.preempted = netip.Addr{}
	m.wantMaster = true
	m.advInt = m.p.AdvertInterval
	m.master = m.p.PrimaryAddr
	m.preemptAt = time.Time{}
	m.preemptHold = false
	// The advert goes first so the old master drops the VIPs before our
	// gratuitous ARPs (keepalived vrrp_state_master_tx).
	acts := []Action{SendAdvert{Priority: m.prio}, AddVIPs{Preempted: preempted}, Announce{}, m.transition(now, StateMaster, reason)}
	m.deadline = now.Add(m.p.AdvertInterval)
	return acts
}

// rearm keeps a refused claimant in BACKUP for another Master_Down_Interval
// (entering BACKUP if it was refused straight from INIT or FAULT).
func (m *Machine) rearm(now time.Time, denial *TakeoverDenied) []Action {
	var acts []Action
	if denial != nil {
		acts = append(acts, *denial)
	}
	deadline := now.Add(m.MasterDownInterval())
	if m.state == StateBackup {
		m.deadline = deadline
	} else {
		reason := "takeover refused by sync group"
		if denial != nil {
			reason = "takeover denied: " + denial.Reason
		}
		acts = append(acts, m.enterBackup(now, deadline, reason)...)
	}
	if denial != nil {
		m.denied = denial.Reason
	}
	return acts
}

// enterBackup moves INIT or FAULT into BACKUP. Leaving INIT removes any
// VIPs: keepalived removes them at start even if it did not add them.
func (m *Machine) enterBackup(now, deadline time.Time, reason string) []Action {
	var acts []Action
	if m.state == StateInit {
		acts = append(acts, RemoveVIPs{})
	}
	acts = append(acts, m.transition(now, StateBackup, reason))
	m.deadline = deadline
	m.downReason = fsmReasonDownExpiry
	m.preempted = netip.Addr{}
	return acts
}

// leaveMaster steps down to BACKUP or FAULT. Priority 0 goes out when we
// leave for FAULT (vrrp.c:2057) so a backup takes over after Skew_Time.
func (m *Machine) leaveMaster(now time.Time, to State, reason string, zero bool) []Action {
	var acts []Action
	if zero {
		acts = append(acts, SendAdvert{Priority: 0})
	}
	acts = append(acts, RemoveVIPs{}, m.transition(now, to, reason))
	m.wantMaster = false
	m.preemptAt = time.Time{}
	m.deadline = time.Time{}
	if to == StateBackup {
		m.deadline = now.Add(m.MasterDownInterval())
		m.downReason = fsmReasonDownExpiry
	}
	return acts
}

func (m *Machine) enterFault(now time.Time, reason string, zero bool) []Action {
	if m.state == StateMaster {
		return m.leaveMaster(now, StateFault, reason, zero)
	}
	var acts []Action
	if m.state == StateInit {
		acts = append(acts, RemoveVIPs{})
	}
	m.wantMaster = false
	m.deadline = time.Time{}
	return append(acts, m.transition(now, StateFault, reason))
}

// leaveFault is keepalived's vrrp_state_leave_fault towards BACKUP: our
// own interval again and a full Master_Down_Interval.
func (m *Machine) leaveFault(now time.Time, reason string) []Action {
	m.advInt = m.p.AdvertInterval
	m.preemptAt = time.Time{}
	m.wantMaster = false
	return m.enterBackup(now, now.Add(m.MasterDownInterval()), reason)
}

// transition records and returns a state change.
func (m *Machine) transition(now time.Time, to State, reason string) Transition {
	t := Transition{From: m.state, To: to, Reason: reason, At: now}
	m.state = to
	m.last = t
	m.denied = ""
	if to != StateBackup && to != StateMaster {
		m.deadline = time.Time{}
	}
	return t
}
