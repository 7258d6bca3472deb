// Package etcdlab runs real etcd members (Debian's etcd 3.4 server,
// /usr/bin/etcd) as child processes for vipd's lab and tests: one member
// per lab host (network namespace) or several on one address.
package etcdlab
