package lab

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFaultRules(t *testing.T) {
	mac1 := net.HardwareAddr{2, 0, 10, 99, 7, 11}
	mac2 := net.HardwareAddr{2, 0, 10, 99, 7, 12}
	n1 := source{mac: mac1, addrs: []netip.Addr{netip.MustParseAddr("10.99.7.11"), {}, netip.MustParseAddr("fe80::aff:fe63:70b")}}
	n2 := source{mac: mac2, addrs: []netip.Addr{netip.MustParseAddr("10.99.7.12"), netip.MustParseAddr("fd00:99:7::12")}}
	const reset = "table netdev vipdlab\ndelete table netdev vipdlab\n"
	for _, tc := range []struct {
		name string
		f    faults
		want string
	}{
		{"none", faults{}, reset},
		{"lossy", faults{lossPct: 30}, reset + `table netdev vipdlab {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		numgen random mod 100 < 30 drop
	}
	chain egress {
		type filter hook egress device "eth0" priority -500; policy accept;
		numgen random mod 100 < 30 drop
	}
}
`},
		{"empty map", faults{from: map[string]source{}}, reset},
		{"from one", faults{from: map[string]source{"n1": n1}}, reset + `table netdev vipdlab {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether saddr { 02:00:0a:63:07:0b } drop
		ip saddr { 10.99.7.11 } drop
		ip6 saddr { fe80::aff:fe63:70b } drop
	}
}
`},
		{"from two", faults{from: map[string]source{"n2": n2, "n1": n1}}, reset + `table netdev vipdlab {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether saddr { 02:00:0a:63:07:0b, 02:00:0a:63:07:0c } drop
		ip saddr { 10.99.7.11, 10.99.7.12 } drop
		ip6 saddr { fd00:99:7::12, fe80::aff:fe63:70b } drop
	}
}
`},
		{"one way", faults{from: map[string]source{"n2": {mac: mac2, addrs: n2.addrs, keepNeighbor: true}}}, reset + `table netdev vipdlab {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ether saddr { 02:00:0a:63:07:0c } ether type != arp drop
		ip saddr { 10.99.7.12 } drop
		ip6 saddr { fd00:99:7::12 } drop
	}
}
`},
		{"both kinds", faults{from: map[string]source{"n1": n1, "n2": {mac: mac2, addrs: n2.addrs[:1], keepNeighbor: true}}}, reset + `table netdev vipdlab {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether saddr { 02:00:0a:63:07:0b } drop
		ip saddr { 10.99.7.11 } drop
		ip6 saddr { fe80::aff:fe63:70b } drop
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ether saddr { 02:00:0a:63:07:0c } ether type != arp drop
		ip saddr { 10.99.7.12 } drop
	}
}
`},
		{"isolated wins", faults{isolated: true, from: map[string]source{"n1": n1}}, reset + `table netdev vipdlab {
	chain ingress {
		type filter hook ingress device "eth0" priority -500; policy accept;
		drop
	}
	chain egress {
		type filter hook egress device "eth0" priority -500; policy accept;
		drop
	}
}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.f.rules("eth0")); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}
