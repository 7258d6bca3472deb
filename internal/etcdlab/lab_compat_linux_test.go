package etcdlab

import "github.com/vipd/vipd/internal/lab"

// The lab's hosts start etcd members in their namespaces.
var _ ProcessStarter[*lab.Proc] = (*lab.Host)(nil)
