// Package dataplane is the contract between vipd's load-balancer
// reconciler and the kernel data planes (IPVS, nftables): the desired
// state as plain values, and the interface each plane implements.
package dataplane
