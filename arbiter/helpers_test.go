package arbiter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/vipd/vipd/arbiter/mastership"
	"github.com/vipd/vipd/internal/clock"
)

// newFakeClock returns the arbiter tests' manual clock: time moves only in
// Advance/AdvanceTo, which run the due callbacks in time order, each seeing
// Now() equal to its due time, and return once they have run.
func newFakeClock() *clock.Fake {
	return clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
}

// parked waits until n timers of clk are pending: the arbiter has done
// what it had to do at the current time and waits on its clock, so the
// test may advance it.
func parked(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, n); err != nil {
		t.Fatalf("arbiter not waiting on %d timers after 10s (%d pending)", n, clk.Waiters())
	}
}

// testEtcd is one embedded etcd member on loopback, with a short election
// timeout so that short lease TTLs are accepted.
type testEtcd struct {
	e        *embed.Etcd
	endpoint string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dir string) (*testEtcd, error) {
	cp, err := freePort()
	if err != nil {
		return nil, err
	}
	pp, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = dir
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{"stderr"}
	curl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", cp)}
	purl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", pp)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{curl}, []url.URL{curl}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{purl}, []url.URL{purl}
	cfg.ListenMetricsUrls = nil
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after 20s")
	}
	return &testEtcd{e: e, endpoint: curl.String()}, nil
}

// sharedEtcd serves every test of the package that does not stop it.
var sharedEtcd *testEtcd

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "arbiter-etcd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start := time.Now()
	sharedEtcd, err = startEtcd(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "embedded etcd ready in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	sharedEtcd.e.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testPrefix gives every test its own key space in the shared etcd.
func testPrefix(t *testing.T) string { return "/test/" + url.PathEscape(t.Name()) }

// running starts a's Run and stops it (waiting for it) in t.Cleanup.
func running(t *testing.T, a *Arbiter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// As the engine does on shutdown: VIPs removed, then released.
			a.mu.Lock()
			var held []string
			for name, u := range a.units {
				if u.held {
					held = append(held, name)
				}
			}
			a.mu.Unlock()
			for _, name := range held {
				a.Release(name, "")
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitLease blocks until a holds a lease and has read the keys once.
func waitLease(t *testing.T, a *Arbiter) {
	t.Helper()
	select {
	case <-a.ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("no lease after 10s")
	}
}

// next returns the next event for key, skipping Renewed ones unless asked.
func next(t *testing.T, a *Arbiter, key string, kinds ...mastership.Kind) mastership.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-a.Events():
			if ev.Unit != key {
				continue
			}
			if len(kinds) == 0 && ev.Kind == mastership.Renewed {
				continue
			}
			if len(kinds) > 0 {
				ok := false
				for _, k := range kinds {
					ok = ok || ev.Kind == k
				}
				if !ok {
					t.Logf("skipping %s event for %s: %s", ev.Kind, key, ev.Reason)
					continue
				}
			}
			return ev
		case <-timeout:
			t.Fatalf("no %v event for %s within 10s", kinds, key)
			return mastership.Event{}
		}
	}
}
