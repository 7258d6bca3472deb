package nft

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Registers, as nft itself uses them.
const (
	regKey  = 1 // selector, client address
	regAddr = 2 // real server address
	regPort = 3 // real server port
)

// hashSeed is fixed so that sh keeps its mapping across Apply and restarts.
const hashSeed = 0x76697064 // "vipd"

// ipsDstNAT is IPS_DST_NAT, the conntrack status bit of a DNATed flow.
const ipsDstNAT = 1 << 5

// program is everything one Apply sends, in batch order: the table, its
// chains, its sets with their elements, then the rules.
type program struct {
	table  *nftables.Table
	chains []*nftables.Chain
	sets   []setDef
	rules  []*nftables.Rule
}

type setDef struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// persistName names the timed set of the clients stuck to real server b
// of service svc. It is named after b's address, not its position, so
// that entries carry over an Apply that reorders or removes backends.
func persistName(svc string, b Backend) string {
	a := b.Addr.As4()
	return fmt.Sprintf("%s_p_%d_%d_%d_%d_%d", svc, a[0], a[1], a[2], a[3], b.Port)
}

// build computes the rules for st's NAT services, after validating all of
// st. carried holds, per persist set name, the client entries read back
// from the table being replaced.
func build(st State, table string, carried map[string][]nftables.SetElement) (*program, error) {
	if err := validateState(st); err != nil {
		return nil, err
	}
	p := &program{table: &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}}
	pre := p.chain("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := p.chain("output", nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	var post *nftables.Chain
	for _, s := range st.Services {
		if s.SNAT && post == nil {
			post = p.chain("postrouting", nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
		}
	}
	for _, s := range st.Services {
		if isDR(&s) {
			continue // in the netdev table, see buildDR
		}
		svc := p.chain(s.Name, nil, nil)
		for _, c := range []*nftables.Chain{pre, out} {
			p.rule(c, slices.Concat(matchService(s), []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: svc.Name}}))
		}
		if err := p.service(s, svc, post, carried); err != nil {
			return nil, fmt.Errorf("service %q: %w", s.Name, err)
		}
	}
	return p, nil
}

func (p *program) chain(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
	c := &nftables.Chain{Name: name, Table: p.table}
	if hook != nil {
		c.Hooknum, c.Priority, c.Type = hook, prio, nftables.ChainTypeNAT
		c.Policy = new(nftables.ChainPolicyAccept)
	}
	p.chains = append(p.chains, c)
	return c
}

func (p *program) rule(c *nftables.Chain, exprs []expr.Any) {
	p.rules = append(p.rules, &nftables.Rule{Table: p.table, Chain: c, Exprs: exprs})
}

// service fills the service chain: sticky clients first, then the
// distribution over the backend chains, or the sorry server, or a drop
// (IPVS drops TCP to a service without usable real servers too).
func (p *program) service(s Service, svc, post *nftables.Chain, carried map[string][]nftables.SetElement) error {
	algo, _ := LookupAlgorithm(s.Algo) // validated
	backends, persist := s.Backends, s.Persistence > 0
	if len(backends) == 0 {
		if s.Sorry == nil {
			p.rule(svc, []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})
			return nil
		}
		sorry := *s.Sorry
		sorry.Weight = 1
		backends, persist, algo = []Backend{sorry}, false, Algorithm{Selector: "inc"}
	}
	n := slots(backends, algo)
	total := 0
	for _, k := range n {
		total += k
	}
	if total == 0 { // every real server inhibited
		p.rule(svc, []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})
		return nil
	}

	var sticky [][]expr.Any // the service chain's first rules: known clients
	vmap := &nftables.Set{
		Table: p.table, Name: s.Name + "_slots", IsMap: true,
		KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict,
		KeyByteOrder: binaryutil.NativeEndian,
	}
	var elems []nftables.SetElement
	for i, b := range backends {
		if n[i] == 0 {
			continue
		}
		name := fmt.Sprintf("%s_rs%d", s.Name, i)
		if s.Backends == nil {
			name = s.Name + "_sorry"
		}
		rs := p.chain(name, nil, nil)
		for range n[i] {
			elems = append(elems, nftables.SetElement{
				Key:         binaryutil.NativeEndian.PutUint32(uint32(len(elems))),
				VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: rs.Name},
			})
		}
		target := []expr.Any{
			&expr.Immediate{Register: regAddr, Data: b.Addr.AsSlice()},
			&expr.Immediate{Register: regPort, Data: binaryutil.BigEndian.PutUint16(b.Port)},
		}
		if persist {
			// A client sticks to this real server for Persistence after its
			// last new flow (update re-arms the timeout); a server that is
			// removed or inhibited loses its set and its clients are
			// balanced afresh.
			pset := &nftables.Set{Table: p.table, Name: persistName(s.Name, b),
				HasTimeout: true, Dynamic: true, Timeout: s.Persistence, KeyType: nftables.TypeIPAddr}
			var keep []nftables.SetElement
			for _, e := range carried[pset.Name] {
				if e.Expires > 0 {
					keep = append(keep, nftables.SetElement{Key: e.Key, Timeout: e.Expires})
				}
			}
			p.sets = append(p.sets, setDef{set: pset, elems: keep})
			target = append(target, loadAddr(12),
				&expr.Dynset{SrcRegKey: regKey, SetName: pset.Name, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: s.Persistence})
			sticky = append(sticky, []expr.Any{loadAddr(12),
				&expr.Lookup{SourceRegister: regKey, SetName: pset.Name},
				&expr.Verdict{Kind: expr.VerdictGoto, Chain: rs.Name}})
		}
		p.rule(rs, append(target, dnat()))
		if s.SNAT {
			p.rule(post, masquerade(s, b))
		}
	}
	p.sets = append(p.sets, setDef{set: vmap, elems: elems})
	for _, r := range sticky {
		p.rule(svc, r)
	}

	var sel []expr.Any
	switch algo.Selector {
	case "inc", "random":
		typ := uint32(unix.NFT_NG_INCREMENTAL)
		if algo.Selector == "random" {
			typ = unix.NFT_NG_RANDOM
		}
		sel = []expr.Any{&expr.Numgen{Register: regKey, Modulus: uint32(total), Type: typ}}
	case "saddr", "daddr":
		off := uint32(12)
		if algo.Selector == "daddr" {
			off = 16
		}
		sel = []expr.Any{loadAddr(off), &expr.Hash{SourceRegister: regKey, DestRegister: regKey, Length: 4,
			Modulus: uint32(total), Seed: hashSeed, Type: expr.HashTypeJenkins}}
	default:
		return fmt.Errorf("selector %q", algo.Selector)
	}
	p.rule(svc, append(sel, &expr.Lookup{SourceRegister: regKey, DestRegister: 0, IsDestRegSet: true, SetName: vmap.Name}))
	return nil
}

// loadAddr loads the IPv4 source (12) or destination (16) address.
func loadAddr(off uint32) expr.Any {
	return &expr.Payload{DestRegister: regKey, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
}

func dnat() expr.Any {
	return &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: regAddr, RegProtoMin: regPort, Specified: true}
}

func protoNum(s Service) byte {
	if s.Protocol() == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// matchService matches "ip daddr VIP <proto> dport PORT".
func matchService(s Service) []expr.Any {
	return matchDst(protoNum(s), s.VIP, s.Port)
}

func matchDst(proto byte, addr netip.Addr, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: regKey},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: []byte{proto}},
		loadAddr(16),
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: addr.AsSlice()},
		&expr.Payload{DestRegister: regKey, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: regKey, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// masquerade rewrites the source of DNATed flows to b, so that b replies
// to the director instead of straight to the client.
func masquerade(s Service, b Backend) []expr.Any {
	return slices.Concat([]expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: regKey},
		&expr.Bitwise{SourceRegister: regKey, DestRegister: regKey, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: regKey, Data: make([]byte, 4)},
	}, matchDst(protoNum(s), b.Addr, b.Port), []expr.Any{&expr.Masq{}})
}
