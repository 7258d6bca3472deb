package nft

import (
	"errors"
	"fmt"
	"github.com/vipd/vipd/lb/dataplane"
	"net/netip"
	"strings"
	"time"
)

// DefaultTable is the nftables table Plane owns when New gets "".
const DefaultTable = "vipd_lb"

// The data plane contract's types, named here for brevity.
type (
	State   = dataplane.State
	Service = dataplane.Service
	Backend = dataplane.Backend
)

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

// validate checks what the rule generator relies on.
func validateState(st State) error {
	seen := map[string]bool{}
	var errs []error
	for _, s := range st.Services {
		if err := validateService(&s); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("service %q: duplicate name", s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}

func validateService(s *Service) error {
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
	if s.FWMark != 0 {
		return errors.New("fwmark services need IPVS")
	}
	switch s.Kind {
	case "", dataplane.NAT:
	case dataplane.DR:
		// The real servers' port is not used: DR cannot rewrite ports,
		// as with IPVS, so they must listen on Port.
		if s.Dev == "" || len(s.Dev) > 15 || strings.ContainsAny(s.Dev, "/ \t\n") {
			return fmt.Errorf("lb_kind DR: device %q: want the interface name the VIP arrives on", s.Dev)
		}
		if s.SNAT {
			return errors.New("lb_kind DR: SNAT needs NAT")
		}
	default:
		return fmt.Errorf("lb_kind %s is not supported by the nftables data plane (NAT and DR only)", s.Kind)
	}
	if m := s.PersistenceMask; m.IsValid() && m != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		if s.Kind != dataplane.DR {
			return errors.New("persistence_granularity is not supported by the nftables data plane with lb_kind NAT")
		}
		if !m.Is4() {
			return fmt.Errorf("persistence_granularity %v: want an IPv4 mask", m)
		}
	}
	if s.Port == 0 {
		return errors.New("port 0 (fwmark services are not supported)")
	}
	if p := s.Protocol(); p != "tcp" && p != "udp" {
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
