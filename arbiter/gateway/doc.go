// Package gateway probes the configured gateways (ARP and/or ICMP echo) with
// keepalived-style rise/fall counting, and detects a duplicate holder of a
// VIP with an RFC 5227 ARP probe, for the arbiter's claim rules.
package gateway
