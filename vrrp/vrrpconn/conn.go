package vrrpconn

import (
	"errors"
	"net/netip"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// TTL is the IPv4 TTL / IPv6 hop limit every VRRP packet is sent with
// (RFC 5798 section 5.1.1.3 and 5.1.2.3); receivers of multicast adverts
// drop anything else.
const TTL = 255

// Default VRRP multicast groups (RFC 5798 section 5.1.1.2 and 5.1.2.2).
var (
	GroupV4 = netip.MustParseAddr("224.0.0.18")
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// ErrNoSourceAddress means the interface has no address to send from
// (IPv4: none at all; IPv6: no link-local). keepalived treats this as a
// FAULT of the instance, so callers branch on it.
var ErrNoSourceAddress = errors.New("vrrpconn: interface has no usable source address")

// Config describes the socket for one (interface, family).
type Config struct {
	Interface string
	Family    int // 4 or 6
	// SrcAddr is mcast_src_ip / unicast_src_ip. Zero means the interface's
	// first IPv4 address (its primary) or, for IPv6, its link-local address,
	// which RFC 5798 section 5.1.2.1 requires for multicast adverts.
	SrcAddr netip.Addr
	// Unicast skips joining the multicast group (unicast_peer mode).
	Unicast bool
	// UnicastTTL is the TTL / hop limit for unicast packets (unicast_ttl);
	// 0 means 255. Multicast always uses 255.
	UnicastTTL int
	// Group is the multicast group; zero means GroupV4 or GroupV6.
	Group netip.Addr
	// SourceInterface is where a zero SrcAddr is taken from when it is not
	// Interface: a VMAC (use_vmac) has no address of its own, and keepalived
	// sends its adverts from the parent's primary address.
	SourceInterface string
}

// Meta describes a received packet.
type Meta struct {
	Src, Dst netip.Addr
	TTL      int // IPv4 TTL or IPv6 hop limit as received
	IfIndex  int // interface the packet arrived on
}
