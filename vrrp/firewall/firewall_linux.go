// Package firewall is keepalived's accept mode (RFC 5798 Accept_Mode) done
// the way keepalived does it with nftables (vrrp/vrrp_nftables.c): a
// master that is not the address owner and has no_accept (the default in
// strict mode) neither accepts packets addressed to its VIPs nor sends
// packets from them. One table per family holds a set of such VIPs and two
// rules that drop on it; the engine keeps the set equal to the VIPs it
// holds in that mode.
package firewall

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DefaultTable is the tables' name, in families ip and ip6 (keepalived's is
// "keepalived").
const DefaultTable = "vipd"

// chainPriority is keepalived's default vrrp_nf_chain_priority: just
// before the filter tables of other software.
const chainPriority = -1

// The ICMPv6 types of neighbour discovery, which keep working for a
// blocked IPv6 VIP (keepalived's neighbor-discovery set).
const (
	icmpv6NeighborSolicit = 135
	icmpv6NeighborAdvert  = 136
)

// Table is the accept-mode tables. It is not safe for concurrent use (the
// engine goroutine owns it).
type Table struct {
	conn    *nftables.Conn
	name    string
	t4, t6  *nftables.Table
	s4, s6  *nftables.Set
	applied []netip.Addr
}

// Open deletes the tables a previous incarnation may have left and creates
// empty ones, with conn (nil: a new connection in our namespace).
func Open(conn *nftables.Conn, name string) (*Table, error) {
	if conn == nil {
		c, err := nftables.New()
		if err != nil {
			return nil, fmt.Errorf("nftables: %w", err)
		}
		conn = c
	}
	t := &Table{conn: conn, name: name,
		t4: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4},
		t6: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv6},
	}
	t.deleteExisting()
	t.build()
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("create nftables tables %s: %w", name, err)
	}
	return t, nil
}

// deleteExisting queues the removal of tables of our name, so a crashed
// incarnation's drop set cannot outlive it.
func (t *Table) deleteExisting() {
	tables, err := t.conn.ListTables()
	if err != nil {
		return
	}
	for _, x := range tables {
		if x.Name == t.name && (x.Family == nftables.TableFamilyIPv4 || x.Family == nftables.TableFamilyIPv6) {
			t.conn.DelTable(x)
		}
	}
}

// build queues both tables: chains in (input) and out (output) hooked at
// priority -1 with policy accept, a set vips, and
//
//	ip  in  ip daddr @vips drop            ip  out ip saddr @vips drop
//	ip6 in  icmpv6 type {nd-neighbor-solicit, nd-neighbor-advert} accept
//	ip6 in  ip6 daddr @vips drop           ip6 out ip6 saddr @vips drop
func (t *Table) build() {
	for _, fam := range []struct {
		table      *nftables.Table
		set        **nftables.Set
		keyType    nftables.SetDatatype
		saddr, len uint32
		v6         bool
	}{
		{t.t4, &t.s4, nftables.TypeIPAddr, 12, 4, false},
		{t.t6, &t.s6, nftables.TypeIP6Addr, 8, 16, true},
	} {
		t.conn.AddTable(fam.table)
		prio := nftables.ChainPriority(chainPriority)
		in := t.conn.AddChain(&nftables.Chain{Name: "in", Table: fam.table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: &prio, Policy: new(nftables.ChainPolicyAccept)})
		out := t.conn.AddChain(&nftables.Chain{Name: "out", Table: fam.table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookOutput, Priority: &prio, Policy: new(nftables.ChainPolicyAccept)})
		set := &nftables.Set{Name: "vips", Table: fam.table, KeyType: fam.keyType}
		// The error only reports a malformed set; ours is static.
		_ = t.conn.AddSet(set, nil)
		*fam.set = set
		if fam.v6 {
			for _, typ := range []byte{icmpv6NeighborSolicit, icmpv6NeighborAdvert} {
				t.conn.AddRule(&nftables.Rule{Table: fam.table, Chain: in, Exprs: []expr.Any{
					&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
					&expr.Verdict{Kind: expr.VerdictAccept},
				}})
			}
		}
		daddr := fam.saddr + fam.len // destination follows source in both headers
		t.conn.AddRule(dropOn(fam.table, in, set, daddr, fam.len))
		t.conn.AddRule(dropOn(fam.table, out, set, fam.saddr, fam.len))
	}
}

// dropOn is "<address at offset> @set drop".
func dropOn(table *nftables.Table, chain *nftables.Chain, set *nftables.Set, offset, length uint32) *nftables.Rule {
	return &nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: length},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}}
}

// Apply makes the sets hold exactly addrs: traffic to and from them is
// dropped from the call on, and no longer for any other address. It is
// idempotent and does nothing when addrs did not change.
func (t *Table) Apply(addrs []netip.Addr) error {
	want := slices.Clone(addrs)
	slices.SortFunc(want, func(a, b netip.Addr) int { return a.Compare(b) })
	want = slices.Compact(want)
	if slices.Equal(want, t.applied) {
		return nil
	}
	t.conn.FlushSet(t.s4)
	t.conn.FlushSet(t.s6)
	var e4, e6 []nftables.SetElement
	for _, a := range want {
		if a.Is4() {
			e4 = append(e4, nftables.SetElement{Key: a.AsSlice()})
		} else {
			e6 = append(e6, nftables.SetElement{Key: a.AsSlice()})
		}
	}
	if len(e4) > 0 {
		if err := t.conn.SetAddElements(t.s4, e4); err != nil {
			return err
		}
	}
	if len(e6) > 0 {
		if err := t.conn.SetAddElements(t.s6, e6); err != nil {
			return err
		}
	}
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("nftables set %s vips: %w", t.name, err)
	}
	t.applied = want
	return nil
}

// Close deletes the tables: nothing of accept mode outlives the daemon.
func (t *Table) Close() error {
	t.conn.DelTable(t.t4)
	t.conn.DelTable(t.t6)
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("delete nftables tables %s: %w", t.name, err)
	}
	t.applied = nil
	return nil
}
