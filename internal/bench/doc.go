// Package bench is `make bench`: it runs vipd and keepalived through the
// same failover scenarios, footprint and config-load measurements in the
// namespace lab and writes docs/benchmarks.md and a plot of the failover
// time distributions (no RFC; the scenarios follow the failure modes of
// RFC 9568 VRRP that docs/safety.md discusses).
package bench
