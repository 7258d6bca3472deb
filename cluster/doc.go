// Package cluster is vipd's cluster plumbing: a memberlist (SWIM) gossip view
// of nodes and their VRRP instance states, and an optional embedded etcd
// member so vipd hosts can run their own etcd cluster.
package cluster
