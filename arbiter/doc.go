// Package arbiter is vipd's mastership gate: a node may hold an instance's
// VIPs only while it owns the instance's etcd key under a lease it has
// renewed recently enough, as measured on its own clock.
package arbiter
