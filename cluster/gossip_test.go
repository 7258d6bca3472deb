package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// runningGossip is a started Gossip whose Run ends at test cleanup or stop.
type runningGossip struct {
	*Gossip
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels Run and waits for it (once; cleanup calls it too).
func (r *runningGossip) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() { r.cancel(); r.err = <-r.done })
	if r.err != nil {
		t.Errorf("Run: %v", r.err)
	}
}

func startGossip(t *testing.T, cfg GossipConfig) *runningGossip {
	t.Helper()
	cfg.Bind = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.ProbeInterval, cfg.GossipInterval = 100*time.Millisecond, 20*time.Millisecond
	if cfg.PushPullInterval == 0 {
		cfg.PushPullInterval = 500 * time.Millisecond
	}
	g, err := NewGossip(cfg, testLogger(t).With("node", cfg.Node))
	if err != nil {
		t.Fatalf("NewGossip(%s): %v", cfg.Node, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningGossip{Gossip: g, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- g.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// waitView waits (generous bound: correctness, not speed) until cond holds
// for g's view, re-checking on every change notification.
func waitView(t *testing.T, g *Gossip, what string, cond func([]Member) bool) []Member {
	t.Helper()
	start := time.Now()
	deadline := time.After(20 * time.Second)
	for {
		ms := g.Members()
		if cond(ms) {
			t.Logf("%s: %s after %v", g.cfg.Node, what, time.Since(start).Round(time.Millisecond))
			return ms
		}
		select {
		case <-g.Changes():
		case <-deadline:
			t.Fatalf("%s: %s: not reached; view %+v", g.cfg.Node, what, ms)
		}
	}
}

func member(ms []Member, node string) (Member, bool) {
	for _, m := range ms {
		if m.Node == node {
			return m, true
		}
	}
	return Member{}, false
}

func nodeStates(node string) []InstanceState {
	return []InstanceState{
		{Name: "VI_1", State: StateMaster, Priority: 150, Token: 42, GatewayOK: true, Since: time.UnixMilli(1_700_000_000_000)},
		{Name: "VI_" + node, State: StateBackup, Priority: 100},
	}
}

func TestGossipConvergeAndLeave(t *testing.T) {
	n1 := startGossip(t, GossipConfig{Node: "n1"})
	seed := n1.LocalAddr().String()
	n2 := startGossip(t, GossipConfig{Node: "n2", Join: []string{seed}})
	n3 := startGossip(t, GossipConfig{Node: "n3", Join: []string{seed}})
	all := []*runningGossip{n1, n2, n3}
	for _, g := range all {
		g.SetLocal(nodeStates(g.cfg.Node))
	}
	for _, g := range all {
		waitView(t, g.Gossip, "sees everyone's states", func(ms []Member) bool {
			for _, o := range all {
				m, ok := member(ms, o.cfg.Node)
				if !ok || !m.Alive || !cmp.Equal(m.Instances, nodeStates(o.cfg.Node)) {
					return false
				}
			}
			return true
		})
	}

	// An update is pushed without waiting for push/pull.
	changed := []InstanceState{{Name: "VI_1", State: StateFault, Priority: 150, Token: 42}}
	n2.SetLocal(changed)
	waitView(t, n1.Gossip, "sees n2's update", func(ms []Member) bool {
		m, _ := member(ms, "n2")
		return cmp.Equal(m.Instances, changed)
	})

	n3.stop(t)
	ms := waitView(t, n1.Gossip, "sees n3 left", func(ms []Member) bool {
		m, _ := member(ms, "n3")
		return m.State == MemberLeft
	})
	m, _ := member(ms, "n3")
	if m.Alive {
		t.Errorf("left member n3 reported alive: %+v", m)
	}
	// n3 left still publishing MASTER of VI_1: only live members count, so
	// n1 is the one live holder the arbiter is shown (cmd/vipd followView).
	var liveMasters []string
	for _, m := range ms {
		for _, is := range m.Instances {
			if m.Alive && is.Name == "VI_1" && is.State == StateMaster {
				liveMasters = append(liveMasters, m.Node)
			}
		}
	}
	if diff := cmp.Diff([]string{"n1"}, liveMasters); diff != "" {
		t.Errorf("live MASTERs of VI_1 after n3 left (-want +got):\n%s\nview %+v", diff, ms)
	}
}

func TestGossipTruncatedMetaConvergesByPushPull(t *testing.T) {
	n1 := startGossip(t, GossipConfig{Node: "n1", PushPullInterval: 200 * time.Millisecond})
	n2 := startGossip(t, GossipConfig{Node: "n2", Join: []string{n1.LocalAddr().String()}, PushPullInterval: 200 * time.Millisecond})
	many := make([]InstanceState, 60)
	for i := range many {
		many[i] = InstanceState{Name: fmt.Sprintf("VI_long_instance_name_%03d", i), State: StateBackup, Priority: 100}
	}
	many[59] = InstanceState{Name: "VI_held", State: StateMaster, Priority: 200, Token: 7}
	n2.SetLocal(many)
	waitView(t, n1.Gossip, "sees all 60 instances of n2", func(ms []Member) bool {
		m, _ := member(ms, "n2")
		return !m.Partial && cmp.Equal(m.Instances, orderMasterFirst(many))
	})
}

func TestGossipEncryption(t *testing.T) {
	dir := t.TempDir()
	good, bad := dir+"/good", dir+"/bad"
	writeFile(t, good, "AAECAwQFBgcICQoLDA0OD/Dx8vP09fb3+Pn6+/z9/v8=\n")
	writeFile(t, bad, "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=\n")
	n1 := startGossip(t, GossipConfig{Node: "n1", SecretFile: good})
	seed := n1.LocalAddr().String()
	n2 := startGossip(t, GossipConfig{Node: "n2", SecretFile: good, Join: []string{seed}})
	waitView(t, n1.Gossip, "sees n2 (same key)", func(ms []Member) bool {
		m, ok := member(ms, "n2")
		return ok && m.Alive
	})
	for _, tc := range []struct{ name, key string }{{"wrong key", bad}, {"no key", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			// Not started: Join is called directly so its error is visible.
			g, err := NewGossip(GossipConfig{Node: "intruder", Bind: netip.MustParseAddrPort("127.0.0.1:0"), SecretFile: tc.key}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer g.ml.Shutdown()
			if n, err := g.ml.Join([]string{seed}); err == nil || n != 0 {
				t.Errorf("Join with %s = %d, %v; want 0 and an error", tc.name, n, err)
			}
			if _, ok := member(n1.Members(), "intruder"); ok {
				t.Errorf("n1 lists the intruder")
			}
			if _, ok := member(n2.Members(), "intruder"); ok {
				t.Errorf("n2 lists the intruder")
			}
		})
	}
}
