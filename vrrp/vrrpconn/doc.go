// Package vrrpconn sends and receives VRRP packets (IP protocol 112, RFC 5798
// section 5.1 and RFC 3768 section 5.1) on one network interface, with the
// addressing, TTL/hop-limit and multicast rules the RFCs require.
//
// # One Conn per (interface, family)
//
// A raw protocol-112 socket sees every VRRP packet that reaches its
// interface: multicast for any group joined on it and unicast to any local
// address. Two Conns on the same interface and family would therefore each
// receive every packet. Open one Conn per (interface, family), let a single
// goroutine call ReadFrom and demultiplex by VRID (and, for unicast peers,
// by source address), and let any number of instances call WriteTo or
// WriteToFrom concurrently. Unicast only skips joining the multicast group;
// a multicast Conn also receives unicast adverts addressed to the host.
//
// The VRRP checksum is the caller's: the kernel computes none (for IPv6,
// IPV6_CHECKSUM stays off for protocol 112, and Dial verifies it).
package vrrpconn
