package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// freePorts returns n distinct free TCP ports on 127.0.0.1 (free when
// asked: another process could take one before etcd binds it).
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

func newClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("client for %v: %v", endpoints, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEmbeddedCluster(t *testing.T) {
	ports := freePorts(t, 6)
	names := []string{"e1", "e2", "e3"}
	var initial []string
	cfgs := make([]EmbeddedConfig, 3)
	for i, name := range names {
		cfgs[i] = EmbeddedConfig{
			Name: name, DataDir: t.TempDir() + "/data",
			PeerURL:           fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			ClientURL:         fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			HeartbeatInterval: 50 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond,
			ReadyTimeout: 30 * time.Second, Log: testLogger(t),
		}
		initial = append(initial, name+"="+cfgs[i].PeerURL)
	}
	start := time.Now()
	members := make([]*Embedded, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range cfgs {
		cfgs[i].InitialCluster = strings.Join(initial, ",")
		wg.Go(func() { members[i], errs[i] = StartEmbedded(t.Context(), cfgs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %s: %v", names[i], err)
		}
		m := members[i]
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Errorf("close %s: %v", names[i], err)
			}
		})
	}
	t.Logf("3-member embedded cluster ready in %v", time.Since(start).Round(time.Millisecond))

	c1, c2 := newClient(t, members[0].Endpoints()), newClient(t, members[1].Endpoints())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c1.Put(ctx, "/vipd/test", "hello"); err != nil {
		t.Fatalf("put via e1: %v", err)
	}
	resp, err := c2.Get(ctx, "/vipd/test")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello" {
		t.Fatalf("get via e2 = %v, %v; want hello", resp, err)
	}

	// One member down: quorum (2 of 3) remains.
	if err := members[2].Close(); err != nil {
		t.Errorf("close e3: %v", err)
	}
	if _, err := c1.Put(ctx, "/vipd/test", "still"); err != nil {
		t.Fatalf("put with e3 down: %v", err)
	}
	if resp, err := c2.Get(ctx, "/vipd/test"); err != nil || string(resp.Kvs[0].Value) != "still" {
		t.Fatalf("linearizable get with e3 down = %v, %v", resp, err)
	}

	// Two down: no quorum, a linearizable read cannot succeed.
	if err := members[1].Close(); err != nil {
		t.Errorf("close e2: %v", err)
	}
	lost := time.Now()
	rctx, rcancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer rcancel()
	if resp, err := c1.Get(rctx, "/vipd/test"); err == nil {
		t.Fatalf("linearizable get without quorum succeeded: %v", resp)
	} else {
		t.Logf("linearizable get without quorum failed after %v: %v", time.Since(lost).Round(time.Millisecond), err)
	}
}
