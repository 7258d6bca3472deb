package lab

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// nftTable is the table the lab owns in each host namespace. Faults live in
// the netdev family, on eth0's ingress and egress hooks, because those see
// every frame (ARP, IPv4, IPv6, multicast, frames of a macvlan stacked on
// eth0) before any routing, socket or VRRP code does.
const nftTable = "vipdlab"

// source identifies frames sent by one host: its MAC and its own addresses
// (never VIPs, which move). The addresses catch frames sent from a virtual
// MAC (use_vmac) that the MAC alone would miss.
type source struct {
	mac   net.HardwareAddr
	addrs []netip.Addr
	// keepNeighbor lets the source's ARP and neighbour discovery through,
	// for one-way cuts: otherwise the open direction breaks too, since
	// its ARP requests would never get the replies.
	keepNeighbor bool
}

// faults is the desired fault state of one host; rules renders it whole and
// the lab replaces the host's table atomically, so applying it is idempotent.
type faults struct {
	isolated bool
	// lossPct drops that percentage of the frames in and out of the
	// host, at random (what `tc netem loss` does, without sch_netem).
	lossPct int
	// from holds the hosts whose frames this host drops, by host name.
	from map[string]source
}

func (f faults) empty() bool { return !f.isolated && f.lossPct == 0 && len(f.from) == 0 }

// rules renders the nft script that makes the host's table match f: an
// empty fault state removes the table. The "table; delete table" pair makes
// the script work whether or not the table exists, in one transaction.
func (f faults) rules(iface string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table netdev %s\ndelete table netdev %s\n", nftTable, nftTable)
	if f.empty() {
		return b.String()
	}
	fmt.Fprintf(&b, "table netdev %s {\n", nftTable)
	fmt.Fprintf(&b, "\tchain ingress {\n\t\ttype filter hook ingress device %q priority -500; policy accept;\n", iface)
	if f.isolated {
		b.WriteString("\t\tdrop\n")
	} else {
		var full, oneWay []source
		for _, s := range f.from {
			if s.keepNeighbor {
				oneWay = append(oneWay, s)
			} else {
				full = append(full, s)
			}
		}
		macs, v4, v6 := split(full)
		writeDrop(&b, "ether saddr", "", macs)
		writeDrop(&b, "ip saddr", "", v4)
		writeDrop(&b, "ip6 saddr", "", v6)
		if len(oneWay) > 0 {
			b.WriteString("\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n")
			macs, v4, v6 := split(oneWay)
			writeDrop(&b, "ether saddr", " ether type != arp", macs)
			writeDrop(&b, "ip saddr", "", v4)
			writeDrop(&b, "ip6 saddr", "", v6)
		}
	}
	loss := ""
	if f.lossPct > 0 {
		loss = fmt.Sprintf("\t\tnumgen random mod 100 < %d drop\n", f.lossPct)
		b.WriteString(loss)
	}
	b.WriteString("\t}\n")
	switch {
	case f.isolated:
		fmt.Fprintf(&b, "\tchain egress {\n\t\ttype filter hook egress device %q priority -500; policy accept;\n\t\tdrop\n\t}\n", iface)
	case loss != "":
		fmt.Fprintf(&b, "\tchain egress {\n\t\ttype filter hook egress device %q priority -500; policy accept;\n%s\t}\n", iface, loss)
	}
	b.WriteString("}\n")
	return b.String()
}

// split sorts the sources' MACs and addresses by match type.
func split(srcs []source) (macs, v4, v6 []string) {
	for _, s := range srcs {
		if s.mac != nil {
			macs = append(macs, s.mac.String())
		}
		for _, a := range s.addrs {
			switch {
			case !a.IsValid():
			case a.Is4():
				v4 = append(v4, a.String())
			default:
				v6 = append(v6, a.String())
			}
		}
	}
	return macs, v4, v6
}

func writeDrop(b *strings.Builder, match, extra string, vals []string) {
	if len(vals) == 0 {
		return
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	fmt.Fprintf(b, "\t\t%s { %s }%s drop\n", match, strings.Join(vals, ", "), extra)
}
