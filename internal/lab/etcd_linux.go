package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/etcdlab"
)

// The lab's hosts start etcd members in their namespaces.
var _ etcdlab.ProcessStarter[*Proc] = (*Host)(nil)

// Etcd is an etcd cluster of lab processes (Debian's etcd-server), the
// arbiter's "cluster elsewhere" in tests and the demo.
type Etcd struct {
	Members []*EtcdMember
}

// EtcdMember is one etcd process.
type EtcdMember struct {
	Name      string
	Host      *Host
	ClientURL string
	PeerURL   string
	Proc      *Proc
	member    etcdlab.Member
}

// StartEtcd runs an etcd cluster with one member per entry of hosts (a
// host listed several times runs several members on distinct ports), with
// fast LAN timings (heartbeat 50 ms, election 500 ms) and data under dir,
// and waits until a write succeeds.
func (l *Lab) StartEtcd(ctx context.Context, hosts []*Host, dir string) (*Etcd, error) {
	if _, err := exec.LookPath("etcd"); err != nil {
		return nil, fmt.Errorf("lab: etcd is not installed (scripts/install-deps.sh installs etcd-server): %w", err)
	}
	e := &Etcd{}
	var members []etcdlab.Member
	seen := map[*Host]int{}
	for i, h := range hosts {
		k := seen[h]
		seen[h]++
		members = append(members, etcdlab.Member{
			Name:       fmt.Sprintf("e%d", i+1),
			IP:         h.Addr4.String(),
			ClientPort: etcdlab.DefaultClientPort + 100*k,
			PeerPort:   etcdlab.DefaultPeerPort + 100*k,
			DataDir:    filepath.Join(dir, fmt.Sprintf("etcd-e%d", i+1)),
		})
	}
	initial := etcdlab.InitialCluster(members...)
	for i, mb := range members {
		mb.InitialCluster = initial
		m := &EtcdMember{Name: mb.Name, Host: hosts[i], ClientURL: mb.ClientURL(), PeerURL: mb.PeerURL(), member: mb}
		e.Members = append(e.Members, m)
		if err := m.Start(); err != nil {
			return nil, err
		}
	}
	return e, e.WaitHealthy(ctx, 20*time.Second)
}

// Start (re)starts the member with its data directory.
func (m *EtcdMember) Start() error {
	argv := etcdlab.Args(m.member) // the same flags as every lab etcd
	p, err := m.Host.Start(argv, nil, "")
	if err != nil {
		return fmt.Errorf("lab: start etcd %s: %w", m.Name, err)
	}
	m.Proc = p
	return nil
}

// Endpoints lists the client URLs, space separated (as in vipd's config).
func (e *Etcd) Endpoints() string {
	var eps []string
	for _, m := range e.Members {
		eps = append(eps, m.ClientURL)
	}
	return strings.Join(eps, " ")
}

// WaitHealthy waits until a write through the cluster succeeds.
func (e *Etcd) WaitHealthy(ctx context.Context, limit time.Duration) error {
	h := e.Members[0].Host
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		out, err := h.Exec(cctx, "env", "ETCDCTL_API=3", "etcdctl", "--endpoints", strings.ReplaceAll(e.Endpoints(), " ", ","),
			"--command-timeout=1s", "put", "/vipd-lab/health", "ok")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(fmt.Errorf("lab: etcd cluster not healthy after %s: %s", limit, out), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
