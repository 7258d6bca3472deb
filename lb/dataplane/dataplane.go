package dataplane

import (
	"net/netip"
	"time"
)

// State is the whole desired load-balancer state: every service vipd
// balances. A Plane's Apply replaces whatever it made before with exactly
// this.
type State struct {
	Services []Service
}

// Forwarding methods (keepalived's lb_kind).
const (
	NAT = "NAT"
	DR  = "DR"
	TUN = "TUN"
)

// Service is one virtual service (keepalived's virtual_server), independent
// of the config package.
type Service struct {
	// Name identifies the service; it names the plane's objects, so it must
	// be unique within a State, non-empty, and made of [A-Za-z0-9_-].
	Name string
	// VIP and Port identify the service, or FWMark does (then VIP is only
	// used for its address family and Port is 0).
	VIP    netip.Addr
	Port   uint16
	FWMark uint32
	Proto  string // "tcp", "udp" or "sctp" (default "tcp")
	// Algo is keepalived's lb_algo; empty means "wlc", keepalived's default.
	Algo string
	// Kind is the forwarding method: NAT (default), DR or TUN.
	Kind string
	// Dev is the interface the VIP's traffic arrives on and the real
	// servers are reached through; the reconciler fills it from the VRRP
	// instance holding the VIP. Planes that hook a device (nftables DR)
	// need it; IPVS does not.
	Dev string
	// Persistence is persistence_timeout: a client address keeps its real
	// server for this long after its last connection. 0 disables it.
	Persistence time.Duration
	// PersistenceMask is persistence_granularity: clients in the same
	// masked network share a real server. Invalid means /32 (/128).
	PersistenceMask netip.Addr
	Backends        []Backend
	// Sorry is the sorry_server, used only when Backends is empty (the
	// reconciler empties Backends when the quorum is lost, as keepalived
	// does). Its Weight is used as is (0 = sorry_server_inhibit).
	Sorry *Backend
	// SNAT masquerades the flows towards the real servers so that replies
	// come back through the director even when it is not their gateway.
	// keepalived's LVS-NAT never does this; it is off by default.
	SNAT bool
}

// Backend is a real server.
type Backend struct {
	Addr   netip.Addr
	Port   uint16
	Weight int // 0 = inhibited (inhibit_on_failure): keeps flows, gets no new ones
}

// Protocol returns s.Proto with its default.
func (s *Service) Protocol() string {
	if s.Proto == "" {
		return "tcp"
	}
	return s.Proto
}

// Plane is a kernel data plane.
type Plane interface {
	// Name is "ipvs" or "nftables".
	Name() string
	// Apply makes the kernel hold exactly st's services (among those the
	// plane made), changing only what differs. It is idempotent.
	Apply(st State) error
	// Remove deletes everything the plane made (at exit, and at start to
	// clear what a crashed vipd left).
	Remove() error
}

// Validator is implemented by planes that can say up front whether they
// can program a service, so a configuration they cannot run is refused at
// start or reload with the virtual server's file:line, instead of failing
// every Apply.
type Validator interface {
	Validate(s Service) error
}
