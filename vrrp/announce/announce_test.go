package announce

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/packet"
)

var (
	ifMAC   = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	vmac    = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x07}
	testIfi = &net.Interface{Index: 3, Name: "eth9", HardwareAddr: ifMAC}
)

// wantGARP is keepalived's gratuitous ARP, written out field by field.
func wantGARP(ip netip.Addr, hw net.HardwareAddr) []byte {
	b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // Ethernet broadcast
	b = append(b, hw...)
	b = append(b, 0x08, 0x06)             // EtherType ARP
	b = append(b, 0x00, 0x01, 0x08, 0x00) // Ethernet, IPv4
	b = append(b, 6, 4, 0x00, 0x01)       // lengths, op request
	b = append(b, hw...)
	b = append(b, ip.AsSlice()...)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, ip.AsSlice()...)
	for len(b) < 60 { // minimum Ethernet frame without FCS
		b = append(b, 0)
	}
	return b
}

// checksum is RFC 1071 over the IPv6 pseudo-header and the ICMPv6 message,
// written independently of the code under test.
func checksum(src, dst netip.Addr, icmp []byte) uint16 {
	var ph []byte
	ph = append(ph, src.AsSlice()...)
	ph = append(ph, dst.AsSlice()...)
	ph = binary.BigEndian.AppendUint32(ph, uint32(len(icmp)))
	ph = append(ph, 0, 0, 0, 58)
	ph = append(ph, icmp...)
	if len(ph)%2 == 1 {
		ph = append(ph, 0)
	}
	var sum uint32
	for i := 0; i < len(ph); i += 2 {
		sum += uint32(ph[i])<<8 | uint32(ph[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// wantNA is keepalived's unsolicited NA, written out field by field.
func wantNA(ip netip.Addr, hw net.HardwareAddr, router bool) []byte {
	flags := byte(0x20) // Override
	if router {
		flags |= 0x80
	}
	icmp := []byte{136, 0, 0, 0, flags, 0, 0, 0}
	icmp = append(icmp, ip.AsSlice()...)
	icmp = append(icmp, 2, 1) // target link-layer address, 8 bytes
	icmp = append(icmp, hw...)
	binary.BigEndian.PutUint16(icmp[2:4], checksum(ip, allNodes, icmp))

	b := []byte{0x33, 0x33, 0, 0, 0, 1}
	b = append(b, hw...)
	b = append(b, 0x86, 0xdd)
	b = append(b, 0x60, 0, 0, 0, 0, byte(len(icmp)), 58, 255)
	b = append(b, ip.AsSlice()...)
	b = append(b, allNodes.AsSlice()...)
	return append(b, icmp...)
}

type sent struct {
	Frame []byte
	To    string
}

// fakeConn records what is written to it.
type fakeConn struct {
	net.PacketConn // nil: only WriteTo and Close are used
	mu             sync.Mutex
	sent           []sent
	err            error
	closed         bool
}

func (f *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	f.sent = append(f.sent, sent{append([]byte(nil), b...), addr.(*packet.Addr).HardwareAddr.String()})
	return len(b), nil
}

func (f *fakeConn) Close() error { f.closed = true; return nil }

func TestAnnounceFrames(t *testing.T) {
	v4a, v4b := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	v6 := netip.MustParseAddr("2001:db8::10")
	tests := []struct {
		name            string
		addrs           []netip.Addr
		hw              net.HardwareAddr
		router          bool
		wantARP, wantND []sent
	}{
		{
			name:    "interface MAC",
			addrs:   []netip.Addr{v4a, v6, v4b},
			wantARP: []sent{{wantGARP(v4a, ifMAC), "ff:ff:ff:ff:ff:ff"}, {wantGARP(v4b, ifMAC), "ff:ff:ff:ff:ff:ff"}},
			wantND:  []sent{{wantNA(v6, ifMAC, false), "33:33:00:00:00:01"}},
		},
		{
			name:    "VMAC and router",
			addrs:   []netip.Addr{netip.AddrFrom16(v4a.As16()), v6}, // a v4-mapped address counts as IPv4
			hw:      vmac,
			router:  true,
			wantARP: []sent{{wantGARP(v4a, vmac), "ff:ff:ff:ff:ff:ff"}},
			wantND:  []sent{{wantNA(v6, vmac, true), "33:33:00:00:00:01"}},
		},
		{name: "nothing", addrs: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arpc, ndc := &fakeConn{}, &fakeConn{}
			a := New(testIfi, arpc, ndc, tt.router)
			if err := a.Announce(tt.addrs, tt.hw); err != nil {
				t.Fatalf("Announce: %v", err)
			}
			if diff := cmp.Diff(tt.wantARP, arpc.sent); diff != "" {
				t.Errorf("ARP frames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantND, ndc.sent); diff != "" {
				t.Errorf("NA frames (-want +got):\n%s", diff)
			}
			if err := a.Close(); err != nil || !arpc.closed || !ndc.closed {
				t.Errorf("Close = %v, closed %v %v", err, arpc.closed, ndc.closed)
			}
		})
	}
}

func TestAnnounceErrors(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
	boom := errors.New("boom")
	t.Run("bad hardware address", func(t *testing.T) {
		a := New(testIfi, &fakeConn{}, &fakeConn{}, false)
		if err := a.Announce([]netip.Addr{v4}, net.HardwareAddr{1, 2, 3}); err == nil {
			t.Error("3-byte hardware address accepted")
		}
	})
	t.Run("one failure does not stop the rest", func(t *testing.T) {
		arpc := &fakeConn{}
		a := New(testIfi, arpc, &fakeConn{err: boom}, false)
		err := a.Announce([]netip.Addr{v6, {}, v4}, nil)
		if !errors.Is(err, boom) {
			t.Errorf("Announce error = %v, want it to wrap %v", err, boom)
		}
		if len(arpc.sent) != 1 {
			t.Errorf("GARP sent %d times after an NA failure, want 1", len(arpc.sent))
		}
	})
	t.Run("no IPv6 socket", func(t *testing.T) {
		a := New(testIfi, &fakeConn{}, nil, false)
		if err := a.Announce([]netip.Addr{v6}, nil); err == nil {
			t.Error("NA without an IPv6 socket succeeded")
		}
	})
}
