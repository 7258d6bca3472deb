package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

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
	dataDir   string
	initial   string
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
	var initial []string
	seen := map[*Host]int{}
	for i, h := range hosts {
		k := seen[h]
		seen[h]++
		m := &EtcdMember{
			Name:      fmt.Sprintf("e%d", i+1),
			Host:      h,
			ClientURL: fmt.Sprintf("http://%s:%d", h.Addr4, 2379+100*k),
			PeerURL:   fmt.Sprintf("http://%s:%d", h.Addr4, 2380+100*k),
			dataDir:   filepath.Join(dir, fmt.Sprintf("etcd-e%d", i+1)),
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		e.Members = append(e.Members, m)
	}
	for _, m := range e.Members {
		m.initial = strings.Join(initial, ",")
		if err := m.Start(); err != nil {
			return nil, err
		}
	}
	return e, e.WaitHealthy(ctx, 20*time.Second)
}

// Start (re)starts the member with its data directory.
func (m *EtcdMember) Start() error {
	argv := []string{"etcd", "--name", m.Name, "--data-dir", m.dataDir,
		"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.initial, "--initial-cluster-state", "new",
		"--initial-cluster-token", "vipd-lab",
		"--heartbeat-interval", "50", "--election-timeout", "500"}
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
