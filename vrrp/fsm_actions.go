package vrrp

import (
	"net/netip"
	"time"
)

// State is the VRRP state of one instance (RFC 5798 §6.4, RFC 3768 §6.4).
type State int

// The states of a Machine. Fault is keepalived's: a tracked interface or
// script is down and the instance neither advertises nor listens.
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
)

// String returns the name keepalived uses in logs, notify arguments and
// FIFO lines.
func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	}
	return "UNKNOWN"
}

// AdvertInfo is what the state machine needs from a received advert that
// already passed validation (VRID, TTL, auth, v2 interval match...).
type AdvertInfo struct {
	Priority uint8
	Src      netip.Addr    // the sender's primary address (IP source)
	Interval time.Duration // the advert's interval; used by v3 backups only
}

// Action is an effect the caller must carry out, in the order returned.
// The concrete types are SendAdvert, AddVIPs, RemoveVIPs, Announce,
// RxLowerPrio, Claim, TakeoverDenied and Transition.
type Action interface{ isVRRPAction() }

// SendAdvert asks for one advert with the given priority now. Priority 0
// tells backups that this master is leaving (RFC 5798 §6.4.3).
type SendAdvert struct{ Priority uint8 }

// AddVIPs asks for the virtual addresses to be installed. Preempted is the
// live master this takeover preempts (invalid otherwise): it still holds
// the addresses until our advert reaches it, so without an arbiter the
// caller installs only once that master has let go (break before make).
type AddVIPs struct{ Preempted netip.Addr }

// RemoveVIPs asks for the virtual addresses to be removed. Removing
// addresses that are not there must not be an error: keepalived also
// removes them at start (behaviour §1.4).
type RemoveVIPs struct{}

// Announce asks for the gratuitous ARP / unsolicited NA burst that follows
// becoming master (garp_master_repeat now, garp_master_delay later; both are
// the caller's to schedule).
type Announce struct{}

// RxLowerPrio reports that a master saw an advert from a lower-priority
// router: keepalived then sends garp_lower_prio_repeat GARPs and runs
// notify_master_rx_lower_pri (behaviour §1.2). Any advert it forced is a
// separate SendAdvert.
type RxLowerPrio struct {
	Src      netip.Addr
	Priority uint8
}

// Claim asks the caller to request mastership from the arbiter with the
// given priority: the machine wanted MASTER but Params.Grant reported no
// valid grant. A TakeoverDenied follows in the same batch. The caller
// decides how (a claim, or a duplicate-address probe first) and retries
// the takeover when the arbiter answers.
type Claim struct{ Priority uint8 }

// TakeoverDenied reports that the mastership gate (Params.Grant) refused a
// Backup→Master transition; the machine stays BACKUP and retries when its
// re-armed down timer expires.
type TakeoverDenied struct {
	Reason string
	At     time.Time
}

// Transition reports a state change; it is always the last action of its
// batch, after the effects that made the new state true, so callers can run
// notify scripts on it.
type Transition struct {
	From, To State
	Reason   string
	At       time.Time
}

func (SendAdvert) isVRRPAction()     {}
func (AddVIPs) isVRRPAction()        {}
func (RemoveVIPs) isVRRPAction()     {}
func (Announce) isVRRPAction()       {}
func (RxLowerPrio) isVRRPAction()    {}
func (Claim) isVRRPAction()          {}
func (TakeoverDenied) isVRRPAction() {}
func (Transition) isVRRPAction()     {}
