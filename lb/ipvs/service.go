package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/lb/dataplane"
)

// The data plane contract's types, named here for brevity.
type (
	State   = dataplane.State
	Service = dataplane.Service
	Backend = dataplane.Backend
)

// IP protocol numbers (IANA). They equal syscall.IPPROTO_* on Linux; they
// are spelled out so that this file builds everywhere.
const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

// Service flags (include/uapi/linux/ip_vs.h).
const (
	flagPersistent = 0x0001 // IP_VS_SVC_F_PERSISTENT
	// flagHashed is IP_VS_SVC_F_HASHED: the kernel sets it on every service
	// it lists, so it is ignored when comparing.
	flagHashed = 0x0002
)

// Forwarding methods, the destination's IP_VS_CONN_F_FWD_MASK bits.
const (
	fwdMasq   = 0 // IP_VS_CONN_F_MASQ: NAT
	fwdLocal  = 1 // IP_VS_CONN_F_LOCALNODE
	fwdTunnel = 2 // IP_VS_CONN_F_TUNNEL: TUN
	fwdRoute  = 3 // IP_VS_CONN_F_DROUTE: DR
	fwdMask   = 7
)

// maxWeight is keepalived's IPVS_WEIGHT_LIMIT. It also keeps weights
// readable: github.com/moby/ipvs reads the 32-bit weight attribute back as
// 16 bits.
const maxWeight = 65535

// maxPersistence is keepalived's LVS_MAX_TIMEOUT (31 days); the kernel
// keeps the timeout in 32-bit jiffies.
const maxPersistence = 31 * 24 * time.Hour

// DefaultStatePath is where New keeps the list of services it made when
// given "".
const DefaultStatePath = "/run/vipd/ipvs.json"

// Schedulers are keepalived's lb_algo values, each an IPVS scheduler
// module (ip_vs_NAME). "" means "wlc", keepalived's default.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// svcKey identifies a virtual service the way the kernel looks it up:
// <family, protocol, address, port> or <family, fwmark>.
type svcKey struct {
	V6     bool
	Proto  uint16     // 0 for fwmark services
	Addr   netip.Addr // zero for fwmark services
	Port   uint16
	FWMark uint32
}

// String is the key as the state file records it: "tcp:10.0.0.1:80",
// "udp:[fd00::1]:53", "fwmark:ipv4:7".
func (k svcKey) String() string {
	if k.FWMark != 0 {
		fam := "ipv4"
		if k.V6 {
			fam = "ipv6"
		}
		return fmt.Sprintf("fwmark:%s:%d", fam, k.FWMark)
	}
	return protoName(k.Proto) + ":" + netip.AddrPortFrom(k.Addr, k.Port).String()
}

func protoName(p uint16) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoSCTP:
		return "sctp"
	}
	return fmt.Sprintf("proto%d", p)
}

// svcSpec is a virtual service as IPVS holds it, in a form that compares
// with ==: what translate makes of a Service, and what the kernel reports.
type svcSpec struct {
	Name    string // the Service's name, for messages; "" when read from the kernel
	Key     svcKey
	Sched   string
	Flags   uint32
	Timeout uint32 // persistence timeout, seconds
	// Netmask is the persistence granularity as the kernel takes it: for
	// IPv4 the mask's four bytes read in host byte order (the attribute is
	// big-endian on the wire, moby/ipvs writes the uint32 in host order),
	// for IPv6 a prefix length.
	Netmask uint32
	Dests   []destSpec
}

// destSpec is a real server as IPVS holds it.
type destSpec struct {
	Addr   netip.Addr
	Port   uint16 // 0: the client's destination port (fwmark services)
	Fwd    uint32 // fwdMasq, fwdRoute or fwdTunnel
	Weight int
}

// sameService reports whether a and b need no UpdateService.
func sameService(a, b svcSpec) bool {
	return a.Sched == b.Sched && a.Flags&^flagHashed == b.Flags&^flagHashed &&
		a.Timeout == b.Timeout && a.Netmask == b.Netmask
}

// translateState validates st and turns each service into its IPVS form,
// in st's order.
func translateState(st State) ([]svcSpec, error) {
	var (
		out   []svcSpec
		errs  []error
		names = map[string]bool{}
		keys  = map[svcKey]string{}
	)
	for _, s := range st.Services {
		spec, err := translate(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("service %q: duplicate name", s.Name))
			continue
		}
		names[s.Name] = true
		if other, ok := keys[spec.Key]; ok {
			errs = append(errs, fmt.Errorf("service %q: %s is already service %q", s.Name, spec.Key, other))
			continue
		}
		keys[spec.Key] = s.Name
		out = append(out, spec)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// translate validates s and returns its IPVS form. Errors name the service.
func translate(s Service) (svcSpec, error) {
	spec, err := translateService(s)
	if err != nil {
		return svcSpec{}, fmt.Errorf("service %q: %w", s.Name, err)
	}
	return spec, nil
}

func translateService(s Service) (svcSpec, error) {
	if err := checkName(s.Name); err != nil {
		return svcSpec{}, err
	}
	if !s.VIP.IsValid() {
		return svcSpec{}, errors.New("no VIP (a fwmark service needs one too, for its address family)")
	}
	vip := s.VIP.Unmap()
	v6 := vip.Is6()
	key := svcKey{V6: v6}
	proto, err := protoNumber(s.Protocol())
	if err != nil {
		return svcSpec{}, err
	}
	switch {
	case s.FWMark != 0 && s.Port != 0:
		return svcSpec{}, fmt.Errorf("fwmark %d with port %d: a fwmark service matches the mark only, its port must be 0", s.FWMark, s.Port)
	case s.FWMark != 0:
		key.FWMark = s.FWMark
	case s.Port == 0:
		return svcSpec{}, fmt.Errorf("port 0 without fwmark: a virtual service needs a port or a fwmark")
	default:
		key.Proto, key.Addr, key.Port = proto, vip, s.Port
	}
	spec := svcSpec{Name: s.Name, Key: key, Sched: s.Algo}
	if spec.Sched == "" {
		spec.Sched = "wlc"
	}
	if !slices.Contains(Schedulers, spec.Sched) {
		return svcSpec{}, fmt.Errorf("lb_algo %q is not an IPVS scheduler (want one of %v)", s.Algo, Schedulers)
	}
	fwd, err := forwarding(s.Kind)
	if err != nil {
		return svcSpec{}, err
	}
	if s.SNAT {
		return svcSpec{}, errors.New("SNAT is not supported by the ipvs data plane (LVS-NAT needs the director as the real servers' gateway); use lb_dataplane nftables")
	}
	if spec.Netmask, err = netmask(s.PersistenceMask, v6, s.Persistence > 0); err != nil {
		return svcSpec{}, err
	}
	if s.Persistence < 0 || s.Persistence > maxPersistence {
		return svcSpec{}, fmt.Errorf("persistence_timeout %v: want 0 to %v", s.Persistence, maxPersistence)
	}
	if s.Persistence > 0 {
		// keepalived's persistence_timeout is whole seconds; round up so
		// that a fraction never disables persistence.
		spec.Flags |= flagPersistent
		spec.Timeout = uint32((s.Persistence + time.Second - 1) / time.Second)
	}

	seen := map[netip.AddrPort]bool{}
	for _, b := range s.Backends {
		d, err := translateDest("real server", b, v6, fwd)
		if err != nil {
			return svcSpec{}, err
		}
		ap := netip.AddrPortFrom(d.Addr, d.Port)
		if seen[ap] {
			return svcSpec{}, fmt.Errorf("real server %v listed twice", ap)
		}
		seen[ap] = true
		spec.Dests = append(spec.Dests, d)
	}
	if s.Sorry != nil {
		d, err := translateDest("sorry server", *s.Sorry, v6, fwd)
		if err != nil {
			return svcSpec{}, err
		}
		// keepalived swaps the real servers for the sorry server when the
		// quorum is lost; the reconciler expresses that by emptying
		// Backends.
		if len(s.Backends) == 0 {
			spec.Dests = []destSpec{d}
		}
	}
	return spec, nil
}

func translateDest(what string, b Backend, v6 bool, fwd uint32) (destSpec, error) {
	if !b.Addr.IsValid() {
		return destSpec{}, fmt.Errorf("%s without an address", what)
	}
	addr := b.Addr.Unmap()
	if addr.Is6() != v6 {
		// moby/ipvs sends no destination family, so the kernel takes the
		// service's; IPVS mixes families only for TUN anyway.
		return destSpec{}, fmt.Errorf("%s %v: mixed address families (the VIP is %s)", what, addr, family(v6))
	}
	if b.Weight < 0 || b.Weight > maxWeight {
		return destSpec{}, fmt.Errorf("%s %v: weight %d outside 0-%d", what, addr, b.Weight, maxWeight)
	}
	return destSpec{Addr: addr, Port: b.Port, Fwd: fwd, Weight: b.Weight}, nil
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("name must be 1-64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("name has %q; use [A-Za-z0-9_-]", r)
		}
	}
	return nil
}

func protoNumber(p string) (uint16, error) {
	switch p {
	case "tcp":
		return protoTCP, nil
	case "udp":
		return protoUDP, nil
	case "sctp":
		return protoSCTP, nil
	}
	return 0, fmt.Errorf("protocol %q: want tcp, udp or sctp", p)
}

func forwarding(kind string) (uint32, error) {
	switch kind {
	case "", dataplane.NAT:
		return fwdMasq, nil
	case dataplane.DR:
		return fwdRoute, nil
	case dataplane.TUN:
		return fwdTunnel, nil
	}
	return 0, fmt.Errorf("lb_kind %q: want NAT, DR or TUN", kind)
}

// netmask returns the kernel's netmask for a persistence_granularity.
// Like keepalived (ipvs_set_srule), the granularity only counts when
// persistence is on; otherwise, and when unset, it is /32 or /128.
func netmask(mask netip.Addr, v6, persistent bool) (uint32, error) {
	full := uint32(0xffffffff)
	if v6 {
		full = 128
	}
	if !mask.IsValid() {
		return full, nil
	}
	mask = mask.Unmap()
	if mask.Is6() != v6 {
		return 0, fmt.Errorf("persistence_granularity %v: mixed address families (the VIP is %s)", mask, family(v6))
	}
	ones := prefixLen(mask)
	if ones < 1 {
		return 0, fmt.Errorf("persistence_granularity %v: want a contiguous mask of 1 to %d bits", mask, mask.BitLen())
	}
	if !persistent {
		return full, nil
	}
	if v6 {
		return uint32(ones), nil
	}
	a := mask.As4()
	return binary.NativeEndian.Uint32(a[:]), nil
}

// prefixLen returns the number of leading ones of a contiguous mask, or -1.
func prefixLen(mask netip.Addr) int {
	b := mask.AsSlice()
	ones := 0
	for i, x := range b {
		n := bits.LeadingZeros8(^x)
		ones += n
		if n < 8 {
			if x<<n != 0 || !allZero(b[i+1:]) {
				return -1
			}
			break
		}
	}
	return ones
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// maskString shows a netmask as /N (or hex when it is no prefix).
func maskString(n uint32, v6 bool) string {
	if v6 {
		return fmt.Sprintf("/%d", n)
	}
	var a [4]byte
	binary.NativeEndian.PutUint32(a[:], n)
	if l := prefixLen(netip.AddrFrom4(a)); l >= 0 {
		return fmt.Sprintf("/%d", l)
	}
	return fmt.Sprintf("%#x", n)
}
