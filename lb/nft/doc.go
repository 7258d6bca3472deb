// Package nft is vipd's load-balancing data plane for kernels without IPVS:
// it programs keepalived's virtual_server semantics (LVS-NAT) as an
// nftables table of DNAT rules with numgen/jhash distribution.
package nft
