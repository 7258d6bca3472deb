package vrrpconn

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/nstest"
)

// pair is two namespaces joined by a veth: a.dev (10.10.0.1, secondary
// 10.10.0.5, fd00:10::1) ↔ b.dev (10.10.0.2, fd00:10::2), plus link-locals.
type pair struct {
	a, b       *nstest.NS
	aDev, bDev string
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{a: nstest.New(t, "vc"), b: nstest.New(t, "vc"), aDev: nstest.LinkName("va"), bDev: nstest.LinkName("vb")}
	nstest.Veth(t, p.a, p.aDev, p.b, p.bDev)
	p.a.AddAddr(t, p.aDev, netip.MustParsePrefix("10.10.0.1/24"))
	p.a.AddAddr(t, p.aDev, netip.MustParsePrefix("10.10.0.5/24"))
	p.a.AddAddr(t, p.aDev, netip.MustParsePrefix("fd00:10::1/64"))
	p.b.AddAddr(t, p.bDev, netip.MustParsePrefix("10.10.0.2/24"))
	p.b.AddAddr(t, p.bDev, netip.MustParsePrefix("fd00:10::2/64"))
	return p
}

// dial opens a Conn inside n, closed at the end of the test, with a
// generous read deadline so that a missing packet fails instead of hanging.
func dial(t *testing.T, n *nstest.NS, cfg Config) *Conn {
	t.Helper()
	var c *Conn
	if err := n.Do(func() (err error) { c, err = Dial(cfg); return err }); err != nil {
		t.Fatalf("Dial(%+v) in %s: %v", cfg, n.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

type received struct {
	Payload []byte
	Meta    Meta
}

func read(t *testing.T, c *Conn) received {
	t.Helper()
	b := make([]byte, 1500)
	n, m, err := c.ReadFrom(b)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return received{b[:n], m}
}

// advert is a VRRPv3-shaped payload with a deliberately wrong checksum
// (0xdead): it must arrive unchanged, which shows that the kernel neither
// computes nor verifies a checksum for protocol 112.
func advert(vrid byte) []byte {
	return []byte{0x31, vrid, 100, 1, 0x00, 0x64, 0xde, 0xad, 10, 10, 0, 100}
}

func TestExchange(t *testing.T) {
	p := newPair(t)
	aLL, bLL := p.a.LinkLocal(t, p.aDev), p.b.LinkLocal(t, p.bDev)
	aIdx, bIdx := p.a.LinkIndex(t, p.aDev), p.b.LinkIndex(t, p.bDev)
	v4 := netip.MustParseAddr
	tests := []struct {
		name         string
		cfgA, cfgB   Config
		aToB, bToA   netip.Addr // destinations
		wantB, wantA Meta       // what each side sees
	}{
		{
			name: "ipv4 multicast",
			cfgA: Config{Interface: p.aDev, Family: 4}, cfgB: Config{Interface: p.bDev, Family: 4},
			aToB: GroupV4, bToA: GroupV4,
			wantB: Meta{Src: v4("10.10.0.1"), Dst: GroupV4, TTL: 255, IfIndex: bIdx},
			wantA: Meta{Src: v4("10.10.0.2"), Dst: GroupV4, TTL: 255, IfIndex: aIdx},
		},
		{
			name: "ipv4 multicast mcast_src_ip",
			cfgA: Config{Interface: p.aDev, Family: 4, SrcAddr: v4("10.10.0.5")}, cfgB: Config{Interface: p.bDev, Family: 4},
			aToB: GroupV4, bToA: GroupV4,
			wantB: Meta{Src: v4("10.10.0.5"), Dst: GroupV4, TTL: 255, IfIndex: bIdx},
			wantA: Meta{Src: v4("10.10.0.2"), Dst: GroupV4, TTL: 255, IfIndex: aIdx},
		},
		{
			name: "ipv4 unicast",
			cfgA: Config{Interface: p.aDev, Family: 4, Unicast: true, SrcAddr: v4("10.10.0.1")},
			cfgB: Config{Interface: p.bDev, Family: 4, Unicast: true},
			aToB: v4("10.10.0.2"), bToA: v4("10.10.0.1"),
			wantB: Meta{Src: v4("10.10.0.1"), Dst: v4("10.10.0.2"), TTL: 255, IfIndex: bIdx},
			wantA: Meta{Src: v4("10.10.0.2"), Dst: v4("10.10.0.1"), TTL: 255, IfIndex: aIdx},
		},
		{
			name: "ipv4 unicast_ttl",
			cfgA: Config{Interface: p.aDev, Family: 4, Unicast: true, UnicastTTL: 64},
			cfgB: Config{Interface: p.bDev, Family: 4, Unicast: true, UnicastTTL: 7},
			aToB: v4("10.10.0.2"), bToA: v4("10.10.0.1"),
			wantB: Meta{Src: v4("10.10.0.1"), Dst: v4("10.10.0.2"), TTL: 64, IfIndex: bIdx},
			wantA: Meta{Src: v4("10.10.0.2"), Dst: v4("10.10.0.1"), TTL: 7, IfIndex: aIdx},
		},
		{
			name: "ipv6 multicast",
			cfgA: Config{Interface: p.aDev, Family: 6}, cfgB: Config{Interface: p.bDev, Family: 6},
			aToB: GroupV6, bToA: GroupV6,
			wantB: Meta{Src: aLL, Dst: GroupV6, TTL: 255, IfIndex: bIdx},
			wantA: Meta{Src: bLL, Dst: GroupV6, TTL: 255, IfIndex: aIdx},
		},
		{
			name: "ipv6 unicast",
			cfgA: Config{Interface: p.aDev, Family: 6, Unicast: true, SrcAddr: v4("fd00:10::1")},
			cfgB: Config{Interface: p.bDev, Family: 6, Unicast: true},
			aToB: v4("fd00:10::2"), bToA: v4("fd00:10::1"),
			wantB: Meta{Src: v4("fd00:10::1"), Dst: v4("fd00:10::2"), TTL: 255, IfIndex: bIdx},
			wantA: Meta{Src: bLL, Dst: v4("fd00:10::1"), TTL: 255, IfIndex: aIdx},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := dial(t, p.a, tt.cfgA), dial(t, p.b, tt.cfgB)
			if got, want := a.LocalAddr(), tt.wantB.Src; got != want {
				t.Errorf("A LocalAddr = %v, want %v", got, want)
			}
			if err := a.WriteTo(advert(1), tt.aToB); err != nil {
				t.Fatalf("A WriteTo: %v", err)
			}
			want := received{advert(1), tt.wantB}
			if diff := cmp.Diff(want, read(t, b), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("B received (-want +got):\n%s", diff)
			}
			// A must not see its own packet (multicast loopback off): the
			// first thing it reads is B's answer.
			if err := b.WriteTo(advert(2), tt.bToA); err != nil {
				t.Fatalf("B WriteTo: %v", err)
			}
			want = received{advert(2), tt.wantA}
			if diff := cmp.Diff(want, read(t, a), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
				t.Errorf("A received (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBoundToInterface gives both namespaces a second link and checks that
// a Conn bound to the first link never reads what arrives on the second.
func TestBoundToInterface(t *testing.T) {
	p := newPair(t)
	a2, b2 := nstest.LinkName("wa"), nstest.LinkName("wb")
	nstest.Veth(t, p.a, a2, p.b, b2)
	p.a.AddAddr(t, a2, netip.MustParsePrefix("10.11.0.1/24"))
	p.b.AddAddr(t, b2, netip.MustParsePrefix("10.11.0.2/24"))
	// IPv6 adverts on the second link come from its link-local addresses
	// (it has no other IPv6 address): sending before they exist fails.
	p.a.LinkLocal(t, a2)
	p.b.LinkLocal(t, b2)
	for _, fam := range []int{4, 6} {
		t.Run(map[int]string{4: "ipv4", 6: "ipv6"}[fam], func(t *testing.T) {
			group := map[int]netip.Addr{4: GroupV4, 6: GroupV6}[fam]
			onB1 := dial(t, p.b, Config{Interface: p.bDev, Family: fam})
			onB2 := dial(t, p.b, Config{Interface: b2, Family: fam})
			fromA1 := dial(t, p.a, Config{Interface: p.aDev, Family: fam})
			fromA2 := dial(t, p.a, Config{Interface: a2, Family: fam})

			// The packet on the second link reaches B (onB2 reads it), and
			// raw delivery hands it to every matching socket at once, so
			// by then onB1 would have it queued if it were not bound.
			if err := fromA2.WriteTo(advert(2), group); err != nil {
				t.Fatal(err)
			}
			if got := read(t, onB2); !cmp.Equal(got.Payload, advert(2)) {
				t.Fatalf("second link: got %x", got.Payload)
			}
			if err := fromA1.WriteTo(advert(1), group); err != nil {
				t.Fatal(err)
			}
			if got := read(t, onB1); !cmp.Equal(got.Payload, advert(1)) {
				t.Errorf("Conn bound to %s first read %x, want the packet sent on its own link %x", p.bDev, got.Payload, advert(1))
			}
		})
	}
}

func TestReadTruncated(t *testing.T) {
	p := newPair(t)
	a := dial(t, p.a, Config{Interface: p.aDev, Family: 4})
	b := dial(t, p.b, Config{Interface: p.bDev, Family: 4})
	if err := a.WriteTo(advert(1), GroupV4); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	n, _, err := b.ReadFrom(buf)
	if !errors.Is(err, ErrTruncated) || n != 4 || !cmp.Equal(buf, advert(1)[:4]) {
		t.Errorf("ReadFrom(4-byte buffer) = %d, %x, %v; want 4, %x, ErrTruncated", n, buf, err, advert(1)[:4])
	}
}

func TestDialErrors(t *testing.T) {
	ns := nstest.New(t, "vc")
	bare, peer := nstest.LinkName("xa"), nstest.LinkName("xb")
	nstest.Veth(t, ns, bare, ns, peer)
	ns.Sysctl(t, "net/ipv6/conf/"+bare+"/disable_ipv6", "1")
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
	}{
		{"no IPv4 address", Config{Interface: bare, Family: 4}, ErrNoSourceAddress},
		{"no link-local", Config{Interface: bare, Family: 6}, ErrNoSourceAddress},
		{"bad family", Config{Interface: bare, Family: 5}, nil},
		{"missing interface", Config{Interface: "nosuchdev0", Family: 4}, nil},
		{"group of the other family", Config{Interface: bare, Family: 4, Group: GroupV6, SrcAddr: netip.MustParseAddr("10.0.0.1")}, nil},
		{"unicast group", Config{Interface: bare, Family: 4, Group: netip.MustParseAddr("10.0.0.9"), SrcAddr: netip.MustParseAddr("10.0.0.1")}, nil},
		{"source of the other family", Config{Interface: bare, Family: 4, SrcAddr: netip.MustParseAddr("fd00::1")}, nil},
		{"unicast TTL out of range", Config{Interface: bare, Family: 4, UnicastTTL: 256, SrcAddr: netip.MustParseAddr("10.0.0.1")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ns.Do(func() error {
				c, err := Dial(tt.cfg)
				if err == nil {
					c.Close()
				}
				return err
			})
			if err == nil {
				t.Fatalf("Dial(%+v) succeeded", tt.cfg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Dial error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestWriteWrongFamily(t *testing.T) {
	p := newPair(t)
	a := dial(t, p.a, Config{Interface: p.aDev, Family: 4})
	if err := a.WriteTo(advert(1), GroupV6); err == nil {
		t.Errorf("IPv6 destination on an IPv4 Conn accepted")
	}
	if err := a.WriteToFrom(advert(1), netip.MustParseAddr("fd00::1"), GroupV4); err == nil {
		t.Errorf("IPv6 source on an IPv4 Conn accepted")
	}
}

// TestWriteToFrom covers instances sharing one Conn with their own
// unicast_src_ip.
func TestWriteToFrom(t *testing.T) {
	p := newPair(t)
	tests := []struct {
		name     string
		family   int
		src, dst netip.Addr
	}{
		{"ipv4", 4, netip.MustParseAddr("10.10.0.5"), netip.MustParseAddr("10.10.0.2")},
		{"ipv6", 6, netip.MustParseAddr("fd00:10::1"), netip.MustParseAddr("fd00:10::2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := dial(t, p.a, Config{Interface: p.aDev, Family: tt.family})
			b := dial(t, p.b, Config{Interface: p.bDev, Family: tt.family, Unicast: true})
			if a.LocalAddr() == tt.src {
				t.Fatalf("test needs a source other than the default %v", a.LocalAddr())
			}
			if err := a.WriteToFrom(advert(3), tt.src, tt.dst); err != nil {
				t.Fatal(err)
			}
			got := read(t, b)
			if got.Meta.Src != tt.src || got.Meta.Dst != tt.dst || !cmp.Equal(got.Payload, advert(3)) {
				t.Errorf("B received %+v, want %x from %v to %v", got, advert(3), tt.src, tt.dst)
			}
		})
	}
}
