// Package lb runs keepalived's virtual_server blocks: it health-checks the
// real servers (lb/check), turns their state into the desired kernel state
// (keepalived's weights, inhibit_on_failure, quorum, hysteresis and
// sorry_server semantics) and keeps a data plane (IPVS or nftables) equal
// to it.
package lb
