// Package lab builds throwaway network-namespace topologies (a bridge as the
// LAN, N nodes, a gateway and a client), injects faults with nftables, and
// observes which node holds each VIP, for vipd's end-to-end tests and demo.
package lab
