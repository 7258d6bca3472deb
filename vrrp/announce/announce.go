package announce

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

// EtherTypes of the two packet sockets.
const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
)

var (
	allNodes    = netip.MustParseAddr("ff02::1")
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x01} // RFC 2464 section 7
)

// Announcer writes complete Ethernet frames on one interface, so that the
// Ethernet source can be a VMAC rather than the interface's own address.
// It is safe for concurrent use (each send is one sendto).
type Announcer struct {
	ifi    *net.Interface
	arp    net.PacketConn // EtherType ARP; frames go to a *packet.Addr
	nd     net.PacketConn // EtherType IPv6
	router bool
}

// New returns an Announcer that sends ARP frames on arpConn and IPv6 frames
// on ndConn (either may be nil if that family is never announced). Each
// conn's WriteTo must accept a *packet.Addr, as mdlayher/packet's does.
// router sets the NA Router flag, which keepalived sets when IPv6
// forwarding is on for the interface (hosts would otherwise drop us from
// their default-router list).
func New(ifi *net.Interface, arpConn, ndConn net.PacketConn, router bool) *Announcer {
	return &Announcer{ifi: ifi, arp: arpConn, nd: ndConn, router: router}
}

// Announce sends one gratuitous ARP per IPv4 address and one unsolicited NA
// per IPv6 address, advertising hw (nil = the interface's MAC; a VMAC
// otherwise) as their link-layer address. It sends to every address even
// if one fails and joins the errors.
func (a *Announcer) Announce(addrs []netip.Addr, hw net.HardwareAddr) error {
	if hw == nil {
		hw = a.ifi.HardwareAddr
	}
	if len(hw) != 6 {
		return fmt.Errorf("announce: %s: hardware address %q is not Ethernet", a.ifi.Name, hw)
	}
	var errs []error
	for _, ip := range addrs {
		ip = ip.Unmap()
		var (
			frame []byte
			conn  net.PacketConn
			dst   net.HardwareAddr
			err   error
		)
		switch {
		case ip.Is4():
			frame, err = GARP(ip, hw)
			conn, dst = a.arp, ethernet.Broadcast
		case ip.Is6():
			frame, err = UnsolicitedNA(ip, hw, a.router)
			conn, dst = a.nd, allNodesMAC
		default:
			err = errors.New("invalid address")
		}
		if err == nil && conn == nil {
			err = errors.New("no socket for this address family")
		}
		if err == nil {
			_, err = conn.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("announce %v on %s: %w", ip, a.ifi.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Close closes both sockets.
func (a *Announcer) Close() error {
	var errs []error
	for _, c := range []net.PacketConn{a.arp, a.nd} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// GARP returns the Ethernet frame of a gratuitous ARP for ip: broadcast, an
// ARP request whose sender and target IP are both ip, sender hardware hw,
// target hardware ff:ff:ff:ff:ff:ff — byte for byte what keepalived sends
// (vrrp_arp.c). The request form is the one every stack accepts
// (RFC 5227 section 3).
func GARP(ip netip.Addr, hw net.HardwareAddr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, hw, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, fmt.Errorf("garp %v: %w", ip, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("garp %v: %w", ip, err)
	}
	f := ethernet.Frame{Destination: ethernet.Broadcast, Source: hw, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

// UnsolicitedNA returns the Ethernet frame of an unsolicited Neighbor
// Advertisement for ip, as keepalived sends it (vrrp_ndisc.c): from ip to
// ff02::1 with hop limit 255, Override set, Solicited clear, Router as
// given, and a target link-layer address option carrying hw.
func UnsolicitedNA(ip netip.Addr, hw net.HardwareAddr, router bool) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Router:        router,
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: hw}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, ip, allNodes)
	if err != nil {
		return nil, fmt.Errorf("na %v: %w", ip, err)
	}
	ip6 := make([]byte, 40, 40+len(icmp))
	ip6[0] = 6 << 4
	binary.BigEndian.PutUint16(ip6[4:6], uint16(len(icmp)))
	ip6[6] = 58  // next header: ICMPv6
	ip6[7] = 255 // hop limit: receivers drop ND with anything else
	src, dst := ip.As16(), allNodes.As16()
	copy(ip6[8:24], src[:])
	copy(ip6[24:40], dst[:])
	f := ethernet.Frame{Destination: allNodesMAC, Source: hw, EtherType: ethernet.EtherTypeIPv6, Payload: append(ip6, icmp...)}
	return f.MarshalBinary()
}
