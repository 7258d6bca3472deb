package nft

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vipd/vipd/lb/dataplane"
	"golang.org/x/sys/unix"
)

// DRSuffix names the netdev table of the DR services: the plane's table
// name plus this suffix ("vipd_lb_dr").
const DRSuffix = "_dr"

// ErrUnresolved is wrapped by Apply's error when the batch was committed
// but some DR real servers (or whole DR services) were left out because
// their MAC address or device could not be found; everything else is in
// place. The next Apply tries again.
var ErrUnresolved = errors.New("DR real servers left out")

// Registers of the DR rules, as nft allocates them: the hash input starts
// in the 16-byte register 2 and the source port of a connection key goes
// into its second 32-bit word (NFT_REG32_05).
const (
	regHashIn  = 2
	regHashIn2 = 13
)

// arphrdEther is ARPHRD_ETHER, the iiftype of Ethernet devices.
const arphrdEther = 1

// drLink is a device DR services arrive on.
type drLink struct {
	index int
	mac   net.HardwareAddr
}

// neighKey is a real server as reached through a device.
type neighKey struct {
	dev  string
	addr netip.Addr
}

// drEnv is what the DR rules need from the kernel, looked up before
// building: the devices, the real servers' MAC addresses and the
// director's own addresses. Whatever is missing is left out of the rules
// and reported.
type drEnv struct {
	links map[string]drLink
	macs  map[neighKey]net.HardwareAddr
	// local holds the director's addresses: a real server there is the
	// director itself (IPVS's "local node"), reached by accepting the
	// packet, whose destination, the VIP, is local.
	local map[netip.Addr]bool
}

// isDR reports whether s is forwarded by direct routing.
func isDR(s *Service) bool { return s.Kind == dataplane.DR }

// drTargets lists the real servers of DR service s that need a MAC: the
// backends with weight > 0, or the sorry server when there are none.
func drTargets(s *Service) []Backend {
	if len(s.Backends) == 0 {
		if s.Sorry != nil && s.Sorry.Weight > 0 {
			return []Backend{*s.Sorry}
		}
		return nil
	}
	var out []Backend
	for _, b := range s.Backends {
		if b.Weight > 0 {
			out = append(out, b)
		}
	}
	return out
}

// drSelector says what a DR service hashes to pick a real server. Netdev
// ingress runs before conntrack, so the choice must be a function of the
// packet: every algorithm that picks per connection (rr, wrr, random and
// the connection-counting ones) hashes the connection's client address
// and port; source hashing and persistence hash the client address only,
// destination hashing the destination.
func drSelector(s *Service, a Algorithm) string {
	switch {
	case a.Selector == "daddr":
		return "daddr"
	case s.Persistence > 0:
		return "persist"
	case a.Selector == "saddr":
		return "saddr"
	}
	return "conn"
}

// buildDR computes the netdev table for the DR services of st (validated
// by build): one ingress chain per device, a service chain hashing into a
// vmap of weighted slots, and one chain per real server that rewrites the
// Ethernet addresses and sends the frame back out of the device (dup to
// the device, then drop: nftables' fwd, which google/nftables cannot
// express). It returns nil if st has no DR service. The error lists what
// env lacked; the program is usable regardless.
func buildDR(st State, table string, env drEnv) (*program, error) {
	var missing []error
	p := &program{table: &nftables.Table{Name: table, Family: nftables.TableFamilyNetdev}}
	ingress := map[string]*nftables.Chain{}
	var svcRules []*nftables.Rule // the ingress chains' rules, sent after the service chains' ones for readability
	for _, s := range st.Services {
		if !isDR(&s) {
			continue
		}
		link, ok := env.links[s.Dev]
		if !ok {
			missing = append(missing, fmt.Errorf("service %q: device %q not found or not Ethernet", s.Name, s.Dev))
			continue
		}
		in := ingress[s.Dev]
		if in == nil {
			// "." cannot occur in service names, so this never collides.
			in = &nftables.Chain{Name: "ingress." + s.Dev, Table: p.table, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter, Device: s.Dev,
				Policy: new(nftables.ChainPolicyAccept)}
			ingress[s.Dev] = in
			p.chains = append(p.chains, in)
		}
		svc := &nftables.Chain{Name: s.Name, Table: p.table}
		p.chains = append(p.chains, svc)
		svcRules = append(svcRules, &nftables.Rule{Table: p.table, Chain: in,
			Exprs: append(matchDR(s), &expr.Verdict{Kind: expr.VerdictJump, Chain: svc.Name})})
		missing = append(missing, p.drService(s, svc, link, env)...)
	}
	if len(p.chains) == 0 && len(missing) == 0 {
		return nil, nil
	}
	p.rules = append(p.rules, svcRules...)
	return p, errors.Join(missing...)
}

// drService fills the service chain of s and adds its real server chains.
func (p *program) drService(s Service, svc *nftables.Chain, link drLink, env drEnv) []error {
	var missing []error
	algo, _ := LookupAlgorithm(s.Algo) // validated
	backends, names := slices.Clone(s.Backends), make([]string, len(s.Backends))
	for i := range backends {
		names[i] = fmt.Sprintf("%s_rs%d", s.Name, i)
	}
	if len(backends) == 0 && s.Sorry != nil {
		backends, names = []Backend{*s.Sorry}, []string{s.Name + "_sorry"}
		algo = Algorithm{Selector: "inc"}
	}
	// A real server without a MAC is treated as inhibited, so that the
	// others share its slots (and fo picks the next highest weight).
	macs := make([]net.HardwareAddr, len(backends))
	for i, b := range backends {
		if b.Weight <= 0 || env.local[b.Addr] {
			continue
		}
		macs[i] = env.macs[neighKey{s.Dev, b.Addr}]
		if macs[i] == nil {
			missing = append(missing, fmt.Errorf("service %q: real server %v on %s: no MAC address", s.Name, b.Addr, s.Dev))
			backends[i].Weight = 0
		}
	}
	n := slots(backends, algo)
	total := 0
	for _, k := range n {
		total += k
	}
	if total == 0 { // no usable real server: drop, as IPVS does
		p.rule(svc, []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})
		return missing
	}
	vmap := &nftables.Set{Table: p.table, Name: s.Name + "_slots", IsMap: true,
		KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
	var elems []nftables.SetElement
	for i := range backends {
		if n[i] == 0 {
			continue
		}
		rs := &nftables.Chain{Name: names[i], Table: p.table}
		p.chains = append(p.chains, rs)
		for range n[i] {
			elems = append(elems, nftables.SetElement{
				Key:         binaryutil.NativeEndian.PutUint32(uint32(len(elems))),
				VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: rs.Name},
			})
		}
		if env.local[backends[i].Addr] {
			p.rule(rs, []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})
		} else {
			p.rule(rs, forward(link, macs[i]))
		}
	}
	p.sets = append(p.sets, setDef{set: vmap, elems: elems})
	p.rule(svc, append(drHash(drSelector(&s, algo), s, total),
		&expr.Lookup{SourceRegister: regKey, DestRegister: 0, IsDestRegSet: true, SetName: vmap.Name}))
	return missing
}

// drHash computes the slot, 0 to mod-1, into register 1.
func drHash(sel string, s Service, mod int) []expr.Any {
	load := func(off uint32, reg uint32) expr.Any {
		return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
	}
	hash := &expr.Hash{SourceRegister: regHashIn, DestRegister: regKey, Length: 4,
		Modulus: uint32(mod), Seed: hashSeed, Type: expr.HashTypeJenkins}
	switch sel {
	case "daddr":
		return []expr.Any{load(16, regHashIn), hash}
	case "saddr":
		return []expr.Any{load(12, regHashIn), hash}
	case "persist":
		// persistence_granularity: clients of one masked network share a
		// real server.
		if m := s.PersistenceMask; m.IsValid() && m != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return []expr.Any{load(12, regHashIn),
				&expr.Bitwise{SourceRegister: regHashIn, DestRegister: regHashIn, Len: 4, Mask: m.AsSlice(), Xor: make([]byte, 4)},
				hash}
		}
		return []expr.Any{load(12, regHashIn), hash}
	}
	// ip saddr . th sport: the client end of the connection, the same for
	// all its packets. The port occupies the next 32-bit register, zero
	// padded by the payload expression, hence length 8.
	hash.Length = 8
	return []expr.Any{load(12, regHashIn),
		&expr.Payload{DestRegister: regHashIn2, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		hash}
}

// matchDR matches "meta pkttype host meta protocol ip ip daddr VIP
// meta l4proto P th dport PORT". pkttype host skips frames addressed to
// another host (a flooding bridge, a promiscuous NIC), which must not be
// forwarded a second time, e.g. by a backup director.
func matchDR(s Service) []expr.Any {
	return slices.Concat([]expr.Any{
		&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: regKey},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: []byte{unix.PACKET_HOST}},
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: regKey},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)},
	}, matchService(s))
}

// forward sends the frame to the real server with MAC rs: "ether saddr set
// DEV ether daddr set RS dup to DEV drop". The source becomes the
// director's own MAC so that switches keep the client's MAC on its port.
func forward(link drLink, rs net.HardwareAddr) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: regKey},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: binaryutil.NativeEndian.PutUint16(arphrdEther)},
		&expr.Immediate{Register: regKey, Data: slices.Clone(link.mac)},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: regKey, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		&expr.Immediate{Register: regKey, Data: slices.Clone(rs)},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: regKey, Base: expr.PayloadBaseLLHeader, Offset: 0, Len: 6},
		&expr.Immediate{Register: regKey, Data: binaryutil.NativeEndian.PutUint32(uint32(link.index))},
		&expr.Dup{RegDev: regKey, IsRegDevSet: true},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}
