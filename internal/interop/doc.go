// Package interop checks that vipd and Debian's keepalived 2.2.7 share one
// virtual router on a namespace LAN: VRRPv2 (RFC 3768) with PASS
// authentication and VRRPv3 (RFC 5798) elections, failover and preemption in
// both directions, rejection of a wrong password, and what each daemon leaves
// behind when its master is killed with -9. It holds tests only.
package interop
