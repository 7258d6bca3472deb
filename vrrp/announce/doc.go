// Package announce sends one gratuitous ARP (RFC 5227 section 3, in the
// ARP-request form keepalived uses) per IPv4 address and one unsolicited
// Neighbor Advertisement (RFC 4861 section 7.2.6) per IPv6 address, so that
// hosts and switches learn a VIP's new owner (RFC 5798 section 6.4.1/6.4.2).
//
// Scheduling (keepalived's garp_master_delay, _repeat, _refresh and the
// per-interface intervals) is the caller's job: Announce sends exactly one
// packet per address each time it is called.
package announce
