// Package cluster is vipd's cluster plumbing: a memberlist (SWIM) gossip view
// of nodes and their VRRP instance states, an optional embedded etcd
// member so vipd hosts can run their own etcd cluster, and the policy task
// (Policy) that feeds gateway verdicts and the gossip view to the arbiter
// and hands units over when this node's gateway is lost.
package cluster
