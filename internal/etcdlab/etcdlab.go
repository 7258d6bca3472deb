package etcdlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Default ports of an etcd member.
const (
	DefaultClientPort = 2379
	DefaultPeerPort   = 2380
)

// ProcessStarter starts a process; *lab.Host (Start(argv, env, logPath)
// (*lab.Proc, error)) is one, so the member runs in that host's namespace.
type ProcessStarter[P any] interface {
	Start(argv []string, env []string, logPath string) (P, error)
}

// Member describes one etcd member.
type Member struct {
	Name           string
	IP             string // listened on and advertised
	ClientPort     int    // default 2379
	PeerPort       int    // default 2380
	DataDir        string
	InitialCluster string // "n1=http://ip:2380,..."; see InitialCluster
	Token          string // --initial-cluster-token (default "vipd-lab")
	// HeartbeatMs and ElectionMs default to 50 and 500: fast enough for
	// 1–2 s lease TTLs (the server's minimum TTL is 1.5 × election timeout).
	HeartbeatMs, ElectionMs int
	// Binary is the etcd executable (default "etcd" from PATH).
	Binary string
}

func (m Member) withDefaults() Member {
	if m.ClientPort == 0 {
		m.ClientPort = DefaultClientPort
	}
	if m.PeerPort == 0 {
		m.PeerPort = DefaultPeerPort
	}
	if m.Token == "" {
		m.Token = "vipd-lab"
	}
	if m.HeartbeatMs == 0 {
		m.HeartbeatMs = 50
	}
	if m.ElectionMs == 0 {
		m.ElectionMs = 500
	}
	if m.Binary == "" {
		m.Binary = "etcd"
	}
	return m
}

// PeerURL is the member's peer URL.
func (m Member) PeerURL() string {
	m = m.withDefaults()
	return "http://" + net.JoinHostPort(m.IP, strconv.Itoa(m.PeerPort))
}

// ClientURL is the member's client URL (an endpoint for clientv3).
func (m Member) ClientURL() string {
	m = m.withDefaults()
	return "http://" + net.JoinHostPort(m.IP, strconv.Itoa(m.ClientPort))
}

// InitialCluster builds the --initial-cluster value for members.
func InitialCluster(members ...Member) string {
	parts := make([]string, 0, len(members))
	for _, m := range members {
		parts = append(parts, m.Name+"="+m.PeerURL())
	}
	return strings.Join(parts, ",")
}

// Args is the argv that runs m with etcd 3.4's flags (also valid for 3.5
// and 3.6), creating a new cluster.
func Args(m Member) []string {
	m = m.withDefaults()
	return []string{
		m.Binary,
		"--name", m.Name,
		"--data-dir", m.DataDir,
		"--listen-peer-urls", m.PeerURL(),
		"--initial-advertise-peer-urls", m.PeerURL(),
		"--listen-client-urls", m.ClientURL(),
		"--advertise-client-urls", m.ClientURL(),
		"--initial-cluster", m.InitialCluster,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", m.Token,
		"--heartbeat-interval", strconv.Itoa(m.HeartbeatMs),
		"--election-timeout", strconv.Itoa(m.ElectionMs),
		// 3.4 defaults to the deprecated capnslog logger and says so.
		"--logger", "zap",
	}
}

// StartEtcdMember starts member name on ip with the default ports, its
// data in dataDir and its output in dataDir + ".log", through h (a lab
// host). It does not wait: a new cluster is ready only once a quorum of
// members started; call WaitHealthy after starting them all.
func StartEtcdMember[P any](ctx context.Context, h ProcessStarter[P], name, ip, initialCluster, dataDir string) (P, error) {
	return StartMember(ctx, h, Member{Name: name, IP: ip, InitialCluster: initialCluster, DataDir: dataDir})
}

// StartMember starts m through h; see StartEtcdMember.
func StartMember[P any](ctx context.Context, h ProcessStarter[P], m Member) (P, error) {
	var zero P
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("etcdlab: start %s: %w", m.Name, err)
	}
	m = m.withDefaults()
	if m.Name == "" || m.IP == "" || m.DataDir == "" {
		return zero, errors.New("etcdlab: member needs a name, an IP and a data dir")
	}
	if m.InitialCluster == "" {
		m.InitialCluster = InitialCluster(m)
	}
	if _, err := exec.LookPath(m.Binary); err != nil {
		return zero, fmt.Errorf("etcdlab: %s not installed (scripts/install-deps.sh installs etcd-server): %w", m.Binary, err)
	}
	if err := os.MkdirAll(filepath.Dir(m.DataDir), 0o755); err != nil {
		return zero, fmt.Errorf("etcdlab: %w", err)
	}
	p, err := h.Start(Args(m), nil, strings.TrimSuffix(m.DataDir, "/")+".log")
	if err != nil {
		return zero, fmt.Errorf("etcdlab: start %s: %w", m.Name, err)
	}
	return p, nil
}

// WaitHealthy waits until a linearizable read succeeds through every
// endpoint (each member has joined a cluster with a leader), or ctx ends.
// It must run where the endpoints are reachable.
func WaitHealthy(ctx context.Context, endpoints []string) error {
	for _, ep := range endpoints {
		if err := waitOne(ctx, ep); err != nil {
			return err
		}
	}
	return nil
}

func waitOne(ctx context.Context, endpoint string) error {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcdlab: client for %s: %w", endpoint, err)
	}
	defer c.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Get(rctx, "/etcdlab/health")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdlab: %s not healthy: %w (last error: %v)", endpoint, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
