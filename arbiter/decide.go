package arbiter

import (
	"fmt"
	"time"
)

// StateMaster is the gossip state of a member that holds an instance
// (VRRP's name, as the cluster package publishes it).
const StateMaster = "MASTER"

// Holder is one live member's view of an instance, as gossip reports it.
// Only etcd authorizes: gossip can block a claim or make a holder step
// down, never grant.
type Holder struct {
	Node  string
	Token int64  // its grant's fencing token; 0 when it holds none
	State string // VRRP state name: MASTER, BACKUP, FAULT, INIT
}

// Inputs are everything a claim decision depends on.
type Inputs struct {
	Now  time.Time
	Node string // this node

	// Lease: we hold a lease etcd acknowledged (EtcdOK; EtcdReason says
	// why not), and VIPs installed now can be fenced (LifetimeOK, from
	// Deadline.VIPLifetime).
	EtcdOK     bool
	EtcdReason string
	LifetimeOK bool
	Lifetime   time.Duration

	// Gateway health from the gateway prober.
	GatewayOK     bool
	GatewayReason string

	// Holders is the gossip view of this instance; KnownToken is the
	// newest token this node has seen in etcd for it (from reads and the
	// watch). A holder whose token is not newer than KnownToken is stale
	// gossip about a grant etcd has already ended.
	Holders    []Holder
	KnownToken int64

	// HoldUntil ends the startup hold; GraceUntil ends the grace after an
	// unclean loss of the previous holder (SAFETY.md).
	HoldUntil  time.Time
	GraceUntil time.Time
}

// Verdict is Decide's answer: whether to try the claim transaction, and
// why not.
type Verdict struct {
	Allow  bool
	Reason string
}

// Decide says whether this node may try to claim an instance. Allow only
// means "send the claim transaction": etcd still decides who wins.
// Checks run from the most fundamental to the most transient, and the
// first failure is the reason.
func Decide(in Inputs) Verdict {
	switch {
	case !in.EtcdOK:
		r := in.EtcdReason
		if r == "" {
			r = "no valid etcd lease"
		}
		return Verdict{Reason: r}
	case !in.LifetimeOK:
		return Verdict{Reason: "lease budget too short to fence VIPs in the kernel"}
	case !in.GatewayOK:
		r := "gateway unreachable"
		if in.GatewayReason != "" {
			r += ": " + in.GatewayReason
		}
		return Verdict{Reason: r}
	case in.Now.Before(in.HoldUntil):
		return Verdict{Reason: fmt.Sprintf("startup hold for another %s", in.HoldUntil.Sub(in.Now).Round(time.Millisecond))}
	case in.Now.Before(in.GraceUntil):
		return Verdict{Reason: fmt.Sprintf("grace after unclean loss of the previous holder, %s left", in.GraceUntil.Sub(in.Now).Round(time.Millisecond))}
	}
	if h, ok := Conflict(in.Node, in.KnownToken, in.Holders); ok {
		return Verdict{Reason: fmt.Sprintf("gossip shows %s holding it with token %d", h.Node, h.Token)}
	}
	return Verdict{Allow: true}
}

// Conflict returns a live member other than node that gossips MASTER for
// the instance with a token newer than token. A claimant passes the newest
// token it has seen in etcd; a holder passes its own token and must step
// down at once when Conflict finds one, because a newer token means etcd
// has granted the instance to someone else since.
func Conflict(node string, token int64, holders []Holder) (Holder, bool) {
	for _, h := range holders {
		if h.Node != node && h.State == StateMaster && h.Token > token {
			return h, true
		}
	}
	return Holder{}, false
}

// Candidate is another member that could take over an instance.
type Candidate struct {
	Node      string
	GatewayOK bool
	// Eligible is false for members that could not claim anyway (FAULT,
	// no etcd lease, arbiter off).
	Eligible bool
}

// ShouldHandOver says whether a holder steps down because of its gateway:
// only when its own gateway is down AND some eligible candidate's gateway
// is up. A gateway down for everyone keeps the current holder, so the VIP
// neither flaps between equally bad nodes nor vanishes. How long the
// gateway must have been down first is the prober's fall count.
func ShouldHandOver(holderGatewayOK bool, candidates []Candidate) bool {
	if holderGatewayOK {
		return false
	}
	for _, c := range candidates {
		if c.Eligible && c.GatewayOK {
			return true
		}
	}
	return false
}
