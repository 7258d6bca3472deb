// Package vrrp implements VRRP (RFC 5798 v3 and RFC 3768 v2): packets, the
// per-instance state machine, and instances.
package vrrp
