package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// DefaultTable is the nftables table Plane owns when New gets "".
const DefaultTable = "vipd_lb"

// State is the whole desired load-balancer state: every service vipd
// balances. Apply replaces whatever the table held with exactly this.
type State struct {
	Services []Service
}

// Service is one virtual service (keepalived's virtual_server with an
// address and a port), independent of the config package.
type Service struct {
	// Name identifies the service; it names the chains and sets, so it must
	// be unique within a State, non-empty, and made of [A-Za-z0-9_-].
	Name  string
	VIP   netip.Addr // IPv4 only for now
	Port  uint16
	Proto string // "tcp" or "udp" (default "tcp")
	// Algo is keepalived's lb_algo; see Algorithm for the mapping. Empty
	// means "wlc", keepalived's default.
	Algo string
	// Persistence is persistence_timeout: a client address keeps its real
	// server for this long after its last new connection. 0 disables it.
	Persistence time.Duration
	Backends    []Backend
	// Sorry is the sorry_server, used only when Backends is empty (the
	// caller empties Backends when the quorum is lost, as keepalived does).
	// Its Weight is ignored.
	Sorry *Backend
	// SNAT masquerades the DNATed flows towards the real servers, so that
	// replies come back through the director even when it is not their
	// gateway. keepalived's LVS-NAT never does this (it requires the
	// director to be the real servers' gateway), so it is off by default.
	SNAT bool
}

// Backend is a real server.
type Backend struct {
	Addr   netip.Addr
	Port   uint16
	Weight int // 0 = inhibited (inhibit_on_failure): keeps flows, gets no new ones
}

// Algorithm says how an lb_algo is expressed in nftables.
type Algorithm struct {
	Selector string // "inc" (numgen inc), "random" (numgen random), "saddr"/"daddr" (jhash)
	Weighted bool   // slots per backend proportional to its weight
	Highest  bool   // only the first backend of the highest weight gets slots
	Exact    bool   // false: an approximation, see NFT.md
}

// algorithms maps keepalived's lb_algo values. Connection-counting
// schedulers (lc, wlc, sed, nq) cannot be expressed: nftables rules see no
// per-backend connection counts. For connections of similar length the
// least-connection families converge to a share proportional to weight, so
// they become weighted random; fo is exact (the highest weight takes all)
// and ovf, which overflows to the next server past a connection limit,
// becomes fo; lblc/lblcr are locality-based on the
// destination, like dh, and mh (Maglev) hashes the source, like sh.
var algorithms = map[string]Algorithm{
	"rr":     {Selector: "inc", Exact: true},
	"wrr":    {Selector: "inc", Weighted: true, Exact: true},
	"random": {Selector: "random", Weighted: true, Exact: true},
	"sh":     {Selector: "saddr", Weighted: true, Exact: true},
	"dh":     {Selector: "daddr", Weighted: true, Exact: true},
	"mh":     {Selector: "saddr", Weighted: true},
	"lc":     {Selector: "random"},
	"wlc":    {Selector: "random", Weighted: true},
	"sed":    {Selector: "random", Weighted: true},
	"nq":     {Selector: "random", Weighted: true},
	"fo":     {Selector: "inc", Highest: true, Exact: true},
	"ovf":    {Selector: "inc", Highest: true},
	"lblc":   {Selector: "daddr", Weighted: true},
	"lblcr":  {Selector: "daddr", Weighted: true},
}

// LookupAlgorithm returns how lb_algo algo is expressed; "" is "wlc".
func LookupAlgorithm(algo string) (Algorithm, error) {
	if algo == "" {
		algo = "wlc"
	}
	a, ok := algorithms[algo]
	if !ok {
		return Algorithm{}, fmt.Errorf("lb_algo %q is not supported", algo)
	}
	return a, nil
}

// maxSlots bounds the numgen/hash modulus, that is the size of the vmap.
const maxSlots = 1024

// slots returns, per eligible backend (weight > 0) in order, how many
// consecutive numgen values it gets: 1 each when unweighted, otherwise the
// weights divided by their gcd and, if they still sum past maxSlots,
// scaled down keeping every backend at least one slot.
func slots(backends []Backend, a Algorithm) []int {
	out := make([]int, len(backends))
	weighted := a.Weighted
	if a.Highest {
		best := -1
		for i, b := range backends {
			if b.Weight > 0 && (best < 0 || b.Weight > backends[best].Weight) {
				best = i
			}
		}
		if best >= 0 {
			out[best] = 1
		}
		return out
	}
	g, sum := 0, 0
	for i, b := range backends {
		if b.Weight <= 0 {
			continue
		}
		if !weighted {
			out[i] = 1
			continue
		}
		out[i] = b.Weight
		g = gcd(g, b.Weight)
		sum += b.Weight
	}
	if !weighted || g == 0 {
		return out
	}
	sum /= g
	for i := range out {
		out[i] /= g
		if sum > maxSlots && out[i] > 0 {
			out[i] = max(1, out[i]*maxSlots/sum)
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (s *Service) proto() string {
	if s.Proto == "" {
		return "tcp"
	}
	return s.Proto
}

// validate checks what the rule generator relies on.
func (st State) validate() error {
	seen := map[string]bool{}
	var errs []error
	for _, s := range st.Services {
		if err := s.validate(); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("service %q: duplicate name", s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

func (s *Service) validate() error {
	if s.Name == "" || len(s.Name) > 64 {
		return errors.New("name must be 1-64 characters")
	}
	for _, r := range s.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("name has %q; use [A-Za-z0-9_-]", r)
		}
	}
	if !s.VIP.Is4() {
		return fmt.Errorf("VIP %v: only IPv4 is supported by the nftables data plane", s.VIP)
	}
	if s.Port == 0 {
		return errors.New("port 0 (fwmark services are not supported)")
	}
	if p := s.proto(); p != "tcp" && p != "udp" {
		return fmt.Errorf("protocol %q: want tcp or udp", p)
	}
	if _, err := LookupAlgorithm(s.Algo); err != nil {
		return err
	}
	if s.Persistence < 0 || (s.Persistence > 0 && s.Persistence < time.Millisecond) {
		return fmt.Errorf("persistence %v: want 0 or at least 1ms", s.Persistence)
	}
	check := func(what string, b Backend) error {
		if !b.Addr.Is4() {
			return fmt.Errorf("%s %v: only IPv4 is supported", what, b.Addr)
		}
		if b.Port == 0 {
			return fmt.Errorf("%s %v: port 0", what, b.Addr)
		}
		if b.Weight < 0 {
			return fmt.Errorf("%s %v: negative weight", what, b.Addr)
		}
		return nil
	}
	for _, b := range s.Backends {
		if err := check("real server", b); err != nil {
			return err
		}
	}
	if s.Sorry != nil {
		if err := check("sorry server", *s.Sorry); err != nil {
			return err
		}
	}
	return nil
}
