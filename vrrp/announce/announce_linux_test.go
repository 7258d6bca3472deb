package announce

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/nstest"
)

// TestAnnounceUpdatesNeighbour sends from namespace A and checks, in
// namespace B, both the frame on the wire (a packet socket) and that B's
// kernel accepted it: B's stale neighbour entry for the VIP (with a bogus
// MAC) is overridden with the announced MAC. A kernel drops an NA with a
// bad checksum or a hop limit other than 255, so this also checks those.
func TestAnnounceUpdatesNeighbour(t *testing.T) {
	a, b := nstest.New(t, "an"), nstest.New(t, "an")
	aDev, bDev := nstest.LinkName("ga"), nstest.LinkName("gb")
	nstest.Veth(t, a, aDev, b, bDev)
	a.AddAddr(t, aDev, netip.MustParsePrefix("10.20.0.1/24"))
	a.AddAddr(t, aDev, netip.MustParsePrefix("fd00:20::1/64"))
	b.AddAddr(t, bDev, netip.MustParsePrefix("10.20.0.2/24"))
	b.AddAddr(t, bDev, netip.MustParsePrefix("fd00:20::2/64"))
	bLink, err := b.NL.LinkByName(bDev)
	if err != nil {
		t.Fatal(err)
	}
	aLink, err := a.NL.LinkByName(aDev)
	if err != nil {
		t.Fatal(err)
	}

	var ann *Announcer
	if err := a.Do(func() (err error) { ann, err = Open(aDev); return err }); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { ann.Close() })

	// Capture in B: every frame from A's side of the veth.
	var capt *packet.Conn
	err = b.Do(func() error {
		ifi, err := net.InterfaceByName(bDev)
		if err != nil {
			return err
		}
		capt, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		return err
	})
	if err != nil {
		t.Fatalf("capture socket: %v", err)
	}
	t.Cleanup(func() { capt.Close() })

	bogus := net.HardwareAddr{0x02, 0xba, 0xd0, 0, 0, 1}
	tests := []struct {
		name   string
		vip    netip.Addr
		hw     net.HardwareAddr
		wantHW net.HardwareAddr
		frame  func(netip.Addr, net.HardwareAddr) []byte
	}{
		{"garp interface MAC", netip.MustParseAddr("10.20.0.100"), nil, aLink.Attrs().HardwareAddr, wantGARP},
		{"garp VMAC", netip.MustParseAddr("10.20.0.101"), vmac, vmac, wantGARP},
		{"na interface MAC", netip.MustParseAddr("fd00:20::100"), nil, aLink.Attrs().HardwareAddr, func(ip netip.Addr, hw net.HardwareAddr) []byte { return wantNA(ip, hw, false) }},
		{"na VMAC", netip.MustParseAddr("fd00:20::101"), vmac, vmac, func(ip netip.Addr, hw net.HardwareAddr) []byte { return wantNA(ip, hw, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			family := unix.AF_INET
			if tt.vip.Is6() {
				family = unix.AF_INET6
			}
			// Linux only updates an existing entry from an unsolicited
			// announcement (arp_accept / accept_untracked_na are off by
			// default), which is exactly the case that matters: peers
			// that cached the old master's MAC.
			stale := &netlink.Neigh{LinkIndex: bLink.Attrs().Index, Family: family, State: netlink.NUD_STALE, IP: tt.vip.AsSlice(), HardwareAddr: bogus}
			if err := b.NL.NeighSet(stale); err != nil {
				t.Fatalf("seed neighbour: %v", err)
			}
			updates := make(chan netlink.NeighUpdate, 16)
			done := make(chan struct{})
			defer close(done)
			if err := netlink.NeighSubscribeAt(b.Handle, updates, done); err != nil {
				t.Fatalf("neighbour subscribe: %v", err)
			}

			if err := ann.Announce([]netip.Addr{tt.vip}, tt.hw); err != nil {
				t.Fatalf("Announce: %v", err)
			}

			// The frame on the wire, skipping unrelated traffic (e.g. MLD).
			want := tt.frame(tt.vip, tt.wantHW)
			if err := capt.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1514)
			for {
				n, _, err := capt.ReadFrom(buf)
				if err != nil {
					t.Fatalf("no announcement captured in B: %v", err)
				}
				if bytes.Equal(buf[:n], want) {
					break
				}
			}

			// B's kernel took it: the entry now carries the announced MAC.
			timeout := time.After(5 * time.Second)
			for {
				select {
				case u := <-updates:
					ip, _ := netip.AddrFromSlice(u.IP)
					if ip.Unmap() != tt.vip || bytes.Equal(u.HardwareAddr, bogus) {
						continue
					}
					if diff := cmp.Diff(tt.wantHW.String(), u.HardwareAddr.String()); diff != "" {
						t.Errorf("neighbour MAC in B (-want +got):\n%s", diff)
					}
				case <-timeout:
					t.Fatalf("B's neighbour entry for %v was not updated", tt.vip)
				}
				break
			}
		})
	}
}
