// Package nft is vipd's load-balancing data plane for kernels without IPVS:
// it programs keepalived's virtual_server semantics as nftables rules,
// LVS-NAT as DNAT with numgen/jhash distribution and LVS-DR as a netdev
// ingress table that rewrites the destination MAC and sends frames back out.
package nft
