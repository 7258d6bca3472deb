package nft

import (
	"net/netip"
	"testing"
)

// TestApplyThousandRealServers: a service with 1,000 real servers is one
// batch well past the default netlink send buffer; Dial's connection
// takes it (a plain nftables.New fails with "message too long").
func TestApplyThousandRealServers(t *testing.T) {
	p := newNS(t) // dialled with Dial
	svc := Service{Name: "big", VIP: netip.MustParseAddr("10.0.0.1"), Port: 80, Algo: "wrr", Persistence: 60e9}
	for i := range 1000 {
		svc.Backends = append(svc.Backends, Backend{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}), Port: 8080, Weight: 1 + i%3})
	}
	for range 2 { // the second Apply also reads back 1,000 persistence sets
		if err := p.Apply(State{Services: []Service{svc}}); err != nil {
			t.Fatalf("Apply with 1,000 real servers: %v", err)
		}
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
}
