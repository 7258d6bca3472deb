package etcdlab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name string
		m    Member
		want []string
	}{
		{
			name: "defaults",
			m:    Member{Name: "n1", IP: "10.0.0.1", DataDir: "/var/lib/etcd/n1", InitialCluster: "n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380"},
			want: []string{"etcd", "--name", "n1", "--data-dir", "/var/lib/etcd/n1",
				"--listen-peer-urls", "http://10.0.0.1:2380", "--initial-advertise-peer-urls", "http://10.0.0.1:2380",
				"--listen-client-urls", "http://10.0.0.1:2379", "--advertise-client-urls", "http://10.0.0.1:2379",
				"--initial-cluster", "n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380", "--initial-cluster-state", "new",
				"--initial-cluster-token", "vipd-lab", "--heartbeat-interval", "50", "--election-timeout", "500",
				"--logger", "zap"},
		},
		{
			name: "ports, token, timings, ipv6",
			m: Member{Name: "a", IP: "fd00::1", ClientPort: 12379, PeerPort: 12380, DataDir: "/d", InitialCluster: "a=http://[fd00::1]:12380",
				Token: "t", HeartbeatMs: 100, ElectionMs: 1000, Binary: "/usr/bin/etcd"},
			want: []string{"/usr/bin/etcd", "--name", "a", "--data-dir", "/d",
				"--listen-peer-urls", "http://[fd00::1]:12380", "--initial-advertise-peer-urls", "http://[fd00::1]:12380",
				"--listen-client-urls", "http://[fd00::1]:12379", "--advertise-client-urls", "http://[fd00::1]:12379",
				"--initial-cluster", "a=http://[fd00::1]:12380", "--initial-cluster-state", "new",
				"--initial-cluster-token", "t", "--heartbeat-interval", "100", "--election-timeout", "1000",
				"--logger", "zap"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Args(tt.m)); diff != "" {
				t.Errorf("Args (-want +got):\n%s", diff)
			}
		})
	}
	if got, want := InitialCluster(Member{Name: "x", IP: "127.0.0.1", PeerPort: 1}, Member{Name: "y", IP: "127.0.0.2"}),
		"x=http://127.0.0.1:1,y=http://127.0.0.2:2380"; got != want {
		t.Errorf("InitialCluster = %q, want %q", got, want)
	}
}

// localStarter runs processes on this host (the lab runs them in a
// namespace instead) and kills them at cleanup.
type localStarter struct{ t *testing.T }

func (s localStarter) Start(argv, env []string, logPath string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if s.t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			s.t.Logf("%s (last lines):\n%s", logPath, strings.Join(lines[max(0, len(lines)-10):], "\n"))
		}
	})
	return cmd, nil
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// TestEtcd34Cluster runs three real etcd members and checks the client
// features the arbiter relies on against the installed server version.
func TestEtcd34Cluster(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd binary missing (scripts/install-deps.sh installs etcd-server)")
	}
	ports := freePorts(t, 6)
	dir := t.TempDir()
	members := make([]Member, 3)
	for i := range members {
		members[i] = Member{Name: fmt.Sprintf("e%d", i+1), IP: "127.0.0.1", PeerPort: ports[2*i], ClientPort: ports[2*i+1],
			DataDir: fmt.Sprintf("%s/e%d", dir, i+1)}
	}
	initial := InitialCluster(members...)
	var endpoints []string
	start := time.Now()
	for i := range members {
		members[i].InitialCluster = initial
		if _, err := StartMember(t.Context(), localStarter{t}, members[i]); err != nil {
			t.Fatal(err)
		}
		endpoints = append(endpoints, members[i].ClientURL())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := WaitHealthy(ctx, endpoints); err != nil {
		t.Fatal(err)
	}
	t.Logf("3-member etcd cluster healthy in %v", time.Since(start).Round(time.Millisecond))

	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c3, err := clientv3.New(clientv3.Config{Endpoints: endpoints[2:], DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	st, err := c.Status(ctx, endpoints[0])
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	t.Logf("server version %s", st.Version)

	// Features the arbiter needs: each must work against the server.
	const key = "/vipd/instances/VI_1/owner"
	var lease clientv3.LeaseID
	var watch clientv3.WatchChan
	var lastSend time.Time
	required := []struct {
		name string
		run  func(context.Context) (string, error)
	}{
		{"put/get across members", func(ctx context.Context) (string, error) {
			if _, err := c.Put(ctx, "/vipd/x", "v"); err != nil {
				return "", err
			}
			r, err := c3.Get(ctx, "/vipd/x")
			if err == nil && (len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v") {
				err = fmt.Errorf("got %v", r.Kvs)
			}
			return "", err
		}},
		{"lease grant TTL 1", func(ctx context.Context) (string, error) {
			r, err := c.Grant(ctx, 1)
			if err != nil {
				return "", err
			}
			lease = r.ID
			return fmt.Sprintf("granted TTL %ds", r.TTL), nil
		}},
		{"claim txn If(CreateRevision==0) with lease", func(ctx context.Context) (string, error) {
			claim := func() (*clientv3.TxnResponse, error) {
				return c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
					Then(clientv3.OpPut(key, "node1", clientv3.WithLease(lease))).Commit()
			}
			r, err := claim()
			if err != nil || !r.Succeeded {
				return "", fmt.Errorf("first claim: %v %v", r, err)
			}
			again, err := claim()
			if err != nil || again.Succeeded {
				return "", fmt.Errorf("second claim should be denied: %v %v", again, err)
			}
			return fmt.Sprintf("fencing token (revision) %d", r.Header.Revision), nil
		}},
		{"watch", func(ctx context.Context) (string, error) {
			watch = c3.Watch(clientv3.WithRequireLeader(t.Context()), key)
			return "", nil
		}},
		{"KeepAliveOnce WithRequireLeader", func(ctx context.Context) (string, error) {
			var ttls []int64
			for range 3 {
				lastSend = time.Now()
				r, err := c.KeepAliveOnce(clientv3.WithRequireLeader(ctx), lease)
				if err != nil {
					return "", err
				}
				ttls = append(ttls, r.TTL)
				time.Sleep(300 * time.Millisecond) // renewal period, not an assertion
			}
			return fmt.Sprintf("TTLs %v", ttls), nil
		}},
		{"TimeToLive with keys", func(ctx context.Context) (string, error) {
			r, err := c.TimeToLive(ctx, lease, clientv3.WithAttachedKeys())
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("TTL %d granted %d keys %d", r.TTL, r.GrantedTTL, len(r.Keys)), nil
		}},
		{"lease expiry deletes the key", func(ctx context.Context) (string, error) {
			for {
				select {
				case wr := <-watch:
					if err := wr.Err(); err != nil {
						return "", err
					}
					for _, ev := range wr.Events {
						if ev.Type == mvccpb.DELETE {
							return fmt.Sprintf("deleted %v after the last keepalive send", time.Since(lastSend).Round(time.Millisecond)), nil
						}
					}
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
		}},
		{"KeepAliveOnce after expiry fails", func(ctx context.Context) (string, error) {
			_, err := c.KeepAliveOnce(clientv3.WithRequireLeader(ctx), lease)
			if err == nil {
				return "", fmt.Errorf("keepalive of an expired lease succeeded")
			}
			return err.Error(), nil
		}},
	}
	for _, f := range required {
		fctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		msg, err := f.run(fctx)
		cancel()
		if err != nil {
			t.Errorf("%s: FAILED against etcd %s: %v", f.name, st.Version, err)
			continue
		}
		t.Logf("%s: ok %s", f.name, msg)
	}

	// Other client calls, reported (not required by the arbiter).
	optional := []struct {
		name string
		run  func(context.Context) error
	}{
		{"MemberList", func(ctx context.Context) error { _, err := c.MemberList(ctx); return err }},
		{"Leases", func(ctx context.Context) error { _, err := c.Leases(ctx); return err }},
		{"LeaseKeepAlive stream", func(ctx context.Context) error {
			g, err := c.Grant(ctx, 2)
			if err != nil {
				return err
			}
			ch, err := c.KeepAlive(ctx, g.ID)
			if err != nil {
				return err
			}
			if _, ok := <-ch; !ok {
				return fmt.Errorf("keepalive channel closed")
			}
			_, err = c.Revoke(ctx, g.ID)
			return err
		}},
		{"Compact", func(ctx context.Context) error { _, err := c.Compact(ctx, 1); return err }},
		{"Downgrade validate (3.5+ API)", func(ctx context.Context) error {
			_, err := c.Downgrade(ctx, clientv3.DowngradeValidate, "3.4.0")
			return err
		}},
	}
	for _, f := range optional {
		fctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := f.run(fctx)
		cancel()
		t.Logf("optional %s against %s: err=%v", f.name, st.Version, err)
	}
}
