package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// The nemesis suite: real vipd processes gated by a real three-member etcd
// cluster (Debian's etcd 3.4), faults injected with nftables, kill -9 and
// SIGSTOP, and the observer asserting that no two nodes ever held the VIP.

// startEtcd runs three etcd members on the gateway host: the "etcd cluster
// elsewhere" every node reaches through the LAN.
func startEtcd(t *testing.T, w *world, h *lab.Host) *lab.Etcd {
	t.Helper()
	c, err := w.lab.StartEtcd(context.Background(), []*lab.Host{h, h, h}, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// arbiterConf is a VRRP instance gated by the cluster.
func arbiterConf(c *lab.Etcd, prio int, vip netip.Addr) string {
	return arbiterConfTTL(c, prio, vip, 5)
}

func arbiterConfTTL(c *lab.Etcd, prio int, vip netip.Addr, ttl int) string {
	return fmt.Sprintf(`
arbiter {
    etcd {
        endpoints %s
        lease_ttl %d
    }
}
`, c.Endpoints(), ttl) + instanceConf("VI_1", 51, prio, vip, "")
}

// arbiterWorld: three vipd nodes (150, 120, 100) gated by etcd on gw; n1
// holds the VIP when it returns.
func arbiterWorld(t *testing.T) (*world, *lab.Etcd, netip.Addr) {
	t.Helper()
	w := newWorld(t, 3)
	vip := w.watch(t, 200)[0]
	c := startEtcd(t, w, w.lab.GW)
	for i, p := range []int{150, 120, 100} {
		w.start(t, i, arbiterConf(c, p, vip))
	}
	w.waitHolder(t, vip, "n1", 20*time.Second)
	w.holdsOnly(t, vip, "n1", 300*time.Millisecond)
	return w, c, vip
}

// peers cuts or heals n1 from n2 and n3.
func cutFromPeers(t *testing.T, w *world, h *lab.Host) {
	t.Helper()
	for _, o := range w.lab.Nodes {
		if o != h {
			if err := w.lab.Cut(h, o); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestArbiterPlannedHandover(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	if err := w.vipd["n1"].Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	w.waitHolder(t, vip, "n2", 10*time.Second)
	w.holdsOnly(t, vip, "n2", 300*time.Millisecond)
	t.Logf("planned handover (SIGTERM) with the arbiter: VIP unheld %s", w.obs.Snapshot().VIP(vip).Gap(at))
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterMasterCutFromPeers(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	cutFromPeers(t, w, w.lab.Nodes[0])
	// Long enough for n2 and n3 to time out n1 twice over: they ask the
	// arbiter, which says n1 still holds the key.
	w.holdsOnly(t, vip, "n1", 8*time.Second)
	st, err := w.vipd["n2"].Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a := st.Instances[0].Arbiter; a == nil || a.Granted || !strings.Contains(a.Holder+a.Reason, "n1") {
		t.Errorf("n2's arbiter status %+v; want denied, held by n1", a)
	}
	if err := w.lab.HealAll(); err != nil {
		t.Fatal(err)
	}
	w.holdsOnly(t, vip, "n1", time.Second)
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterAsymmetricDrop(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	// n1's adverts no longer reach n2 (n2 → n1 still works).
	if err := w.lab.CutOneWay(w.lab.Nodes[0], w.lab.Nodes[1]); err != nil {
		t.Fatal(err)
	}
	w.holdsOnly(t, vip, "n1", 7*time.Second)
	w.lab.HealAll()
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterIsolatedMaster(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	if err := w.lab.Isolate(w.lab.Nodes[0]); err != nil {
		t.Fatal(err)
	}
	// n1 loses etcd: it steps down at its local lease deadline; n2 claims
	// only once etcd expired n1's lease.
	w.waitHolder(t, vip, "n2", 20*time.Second)
	w.holdsOnly(t, vip, "n2", 300*time.Millisecond)
	t.Logf("isolated master: VIP unheld %s before n2 took over", w.obs.Snapshot().VIP(vip).Gap(at))
	if err := w.lab.HealAll(); err != nil {
		t.Fatal(err)
	}
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterMasterCutFromEtcd(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	if err := w.lab.Cut(w.lab.Nodes[0], w.lab.GW); err != nil {
		t.Fatal(err)
	}
	w.waitHolder(t, vip, "n2", 20*time.Second)
	w.holdsOnly(t, vip, "n2", 300*time.Millisecond)
	t.Logf("master cut from etcd only: VIP unheld %s before n2 took over", w.obs.Snapshot().VIP(vip).Gap(at))
	w.lab.HealAll()
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterKill9(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	if err := w.vipd["n1"].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	w.waitHolder(t, vip, "n2", 20*time.Second)
	w.holdsOnly(t, vip, "n2", 300*time.Millisecond)
	t.Logf("kill -9 of the master with the arbiter: VIP unheld %s", w.obs.Snapshot().VIP(vip).Gap(at))
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterFrozenMaster(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	p := w.vipd["n1"].Proc
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	w.waitHolder(t, vip, "n2", 20*time.Second)
	time.Sleep(10*time.Second - time.Since(at)) // frozen for 2 × the lease TTL
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	// Resumed, n1 must neither refresh its lapsed VIPs nor claim over n2:
	// either would put the VIP on both. It may take the VIP back later as
	// the higher priority, but only through n2's release (preemption goes
	// through the key), so there is never more than one holder.
	resumed := time.Now()
	for end := resumed.Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if got := w.obs.Holders(vip); len(got) > 1 {
			t.Fatalf("holders of %s = %v %s after SIGCONT, want one", vip, got, time.Since(resumed))
		}
	}
	t.Logf("SIGSTOP of the master for 2×TTL: VIP unheld %s; holder 3 s after SIGCONT: %v", w.obs.Snapshot().VIP(vip).Gap(at), w.obs.Holders(vip))
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterEtcdDown(t *testing.T) {
	w, c, vip := arbiterWorld(t)
	for _, m := range c.Members {
		if err := m.Proc.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	// Safety first (on_etcd_loss release): the master steps down at its
	// lease deadline and nobody may claim.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := w.obs.WaitNoHolder(ctx, vip); err != nil {
		t.Fatalf("VIP still held with etcd down: %v (holders %v)", err, w.obs.Holders(vip))
	}
	time.Sleep(3 * time.Second)
	if hs := w.obs.Holders(vip); len(hs) != 0 {
		t.Errorf("holders %v with etcd down, want none", hs)
	}
	for _, m := range c.Members {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	w.waitHolder(t, vip, "n1", 30*time.Second)
	w.assertNoSplitBrain(t, vip)
}

// TestArbiterEtcdMinorityWithMaster: etcd members run on the vipd nodes
// themselves; the master and its etcd member are cut from the other two.
// The master's member is a minority: its keepalives fail (no leader), it
// steps down at its deadline, and the majority side claims after expiry.
func TestArbiterEtcdMinorityWithMaster(t *testing.T) {
	w := newWorld(t, 3)
	vip := w.watch(t, 200)[0]
	c, err := w.lab.StartEtcd(context.Background(), w.lab.Nodes, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []int{150, 120, 100} {
		w.start(t, i, arbiterConf(c, p, vip))
	}
	w.waitHolder(t, vip, "n1", 20*time.Second)
	at := time.Now()
	cutFromPeers(t, w, w.lab.Nodes[0])
	w.waitHolder(t, vip, "n2", 30*time.Second)
	w.holdsOnly(t, vip, "n2", 300*time.Millisecond)
	t.Logf("etcd minority with the master: VIP unheld %s before n2 took over", w.obs.Snapshot().VIP(vip).Gap(at))
	if err := w.lab.HealAll(); err != nil {
		t.Fatal(err)
	}
	w.assertNoSplitBrain(t, vip)
}

// TestArbiterRandomSchedule runs a seeded random schedule of the faults
// above (VIPD_NEMESIS_SEED picks another seed) and asserts that no two
// nodes ever held the VIP.
func TestArbiterRandomSchedule(t *testing.T) {
	seed := int64(20261125)
	if s := os.Getenv("VIPD_NEMESIS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d (rerun with VIPD_NEMESIS_SEED=%d)", seed, seed)
	w, _, vip := arbiterWorld(t)
	nodes := w.lab.Nodes
	faults := []string{"cut-peers", "isolate", "kill", "stop", "cut-etcd", "one-way", "sigterm"}
	const rounds = 6
	for r := range rounds {
		f := faults[rng.Intn(len(faults))]
		h := nodes[rng.Intn(len(nodes))]
		if hs := w.obs.Holders(vip); len(hs) == 1 && rng.Intn(2) == 0 {
			h = w.lab.Host(hs[0]) // half the time, hit the holder
		}
		hold := time.Duration(2+rng.Intn(5)) * time.Second
		t.Logf("round %d: %s on %s for %s (holders %v)", r+1, f, h.Name, hold, w.obs.Holders(vip))
		v := w.vipd[h.Name]
		var undo func()
		switch f {
		case "cut-peers":
			cutFromPeers(t, w, h)
			undo = func() { w.lab.HealAll() }
		case "isolate":
			w.lab.Isolate(h)
			undo = func() { w.lab.HealAll() }
		case "cut-etcd":
			w.lab.Cut(h, w.lab.GW)
			undo = func() { w.lab.HealAll() }
		case "one-way":
			o := nodes[(slices.Index(nodes, h)+1)%len(nodes)]
			w.lab.CutOneWay(h, o)
			undo = func() { w.lab.HealAll() }
		case "kill":
			v.Proc.Kill()
			undo = func() { v.Start(t) }
		case "sigterm":
			v.Proc.Stop()
			undo = func() { v.Start(t) }
		case "stop":
			v.Proc.Pause()
			undo = func() { v.Proc.Resume() }
		}
		time.Sleep(hold)
		undo()
		time.Sleep(time.Duration(1+rng.Intn(3)) * time.Second)
	}
	// After the last heal the cluster must converge on one holder again.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := w.obs.WaitAnyHolder(ctx, vip); err != nil {
		t.Errorf("no holder 30 s after the schedule ended: %v", err)
	}
	w.assertNoSplitBrain(t, vip)
}

// TestArbiterHandover: `vipctl handover` moves the VIP to a backup within
// milliseconds, and the old master (priority 150) does not preempt it back.
func TestArbiterHandover(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	out, err := exec.Command(Binary(t, "vipctl"), "--control-socket", w.vipd["n1"].Socket, "handover", "VI_1").CombinedOutput()
	if err != nil {
		t.Fatalf("vipctl handover: %v: %s", err, out)
	}
	w.waitHolder(t, vip, "n2", 5*time.Second)
	t.Logf("vipctl handover: VIP unheld %s", w.obs.Snapshot().VIP(vip).Gap(at))
	w.holdsOnly(t, vip, "n2", 6*time.Second) // longer than n1's down timer: no preemption back
	w.assertNoSplitBrain(t, vip)
	// Straight to the best backup: n3 (100) never had it on the way.
	if got := w.obs.Snapshot().VIP(vip).HeldBy(at); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("after the handover the VIP was held by %v, want only n1 then n2", got)
	}
	out, err = exec.Command(Binary(t, "vipctl"), "--control-socket", w.vipd["n1"].Socket, "handover", "VI_1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not MASTER") {
		t.Errorf("handover on a backup: %v %s; want a 'not MASTER' error", err, out)
	}
}

// TestArbiterLossyMaster: the master's link loses 30 % of its frames both
// ways for 40 s (what `tc netem loss 30%` does). The VIP may leave the
// lossy node and come back once it heals, but the healthy backups must not
// pass it between themselves: at most two moves, never two holders.
func TestArbiterLossyMaster(t *testing.T) {
	w := newWorld(t, 3)
	vip := w.watch(t, 200)[0]
	c := startEtcd(t, w, w.lab.GW)
	for i, p := range []int{140, 120, 100} {
		w.start(t, i, arbiterConfTTL(c, p, vip, 4)) // the shortest TTL a user would pick
	}
	w.waitHolder(t, vip, "n1", 20*time.Second)
	at := time.Now()
	if err := w.lab.Lossy(w.lab.Nodes[0], 30); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Second)
	if err := w.lab.HealAll(); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	// n1 has the highest priority: preemption brings the VIP back.
	w.waitHolder(t, vip, "n1", 90*time.Second)
	w.holdsOnly(t, vip, "n1", time.Second)
	r := w.obs.Snapshot().VIP(vip)
	t.Logf("30%% loss on the master for 40 s: %d moves, unheld %s in all, back on n1 %s after the heal",
		r.Moves(at), r.UnheldAfter(at).Round(time.Millisecond), r.Spans[len(r.Spans)-1].Start.Sub(healed).Round(time.Millisecond))
	if m := r.Moves(at); m > 2 {
		t.Errorf("the VIP moved %d times, want at most 2 (away from the lossy master and back)", m)
	}
	w.assertNoSplitBrain(t, vip)
}

// gatewayWorld: etcd runs on the client host so the gateway host can fail
// alone; every node probes the gateway and gossips over memberlist.
func gatewayWorld(t *testing.T) (*world, netip.Addr) {
	t.Helper()
	w := newWorld(t, 3)
	vip := w.watch(t, 200)[0]
	c := startEtcd(t, w, w.lab.Client)
	key := filepath.Join(w.dir, "gossip.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	var join []string
	for _, n := range w.lab.Nodes {
		join = append(join, n.Addr4.String()+":7946")
	}
	for i, p := range []int{150, 120, 100} {
		n := w.lab.Nodes[i]
		conf := fmt.Sprintf(`
arbiter {
    etcd {
        endpoints %s
        lease_ttl 5
    }
    gateway {
        %s
        interval 0.2
        fall 3
        rise 2
    }
    memberlist {
        bind %s:7946
        join %s
        secret_file %s
    }
}
`, c.Endpoints(), w.lab.GW.Addr4, n.Addr4, strings.Join(join, " "), key) + instanceConf("VI_1", 51, p, vip, "")
		w.start(t, i, conf)
	}
	w.waitHolder(t, vip, "n1", 20*time.Second)
	// Gossip has converged when n1 sees all three members.
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := w.vipd["n1"].Status(context.Background())
		if err == nil && len(st.Cluster) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gossip did not converge: %+v %v", st.Cluster, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return w, vip
}

func TestArbiterGatewayLostByMaster(t *testing.T) {
	w, vip := gatewayWorld(t)
	out, err := exec.Command(Binary(t, "vipctl"), "--control-socket", w.vipd["n2"].Socket, "status", "--cluster").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "n1") || !strings.Contains(string(out), "MASTER") {
		t.Errorf("vipctl status --cluster on n2: %v\n%s", err, out)
	}
	at := time.Now()
	if err := w.lab.Cut(w.lab.Nodes[0], w.lab.GW); err != nil {
		t.Fatal(err)
	}
	// n1's gateway is gone but n2's is fine: n1 hands over.
	w.waitHolder(t, vip, "n2", 15*time.Second)
	w.holdsOnly(t, vip, "n2", 2*time.Second)
	t.Logf("gateway lost by the master: VIP moved after %s, unheld %s", time.Since(at).Round(time.Millisecond), w.obs.Snapshot().VIP(vip).Gap(at))
	w.lab.HealAll()
	w.assertNoSplitBrain(t, vip)
}

func TestArbiterGatewayLostByEveryone(t *testing.T) {
	w, vip := gatewayWorld(t)
	at := time.Now()
	if err := w.lab.Isolate(w.lab.GW); err != nil {
		t.Fatal(err)
	}
	// Nobody has a better gateway: the holder keeps the VIP, no flapping.
	w.holdsOnly(t, vip, "n1", 8*time.Second)
	w.lab.HealAll()
	w.assertNoSplitBrain(t, vip)
	// Only from the isolation on: on a loaded host n2 may win the first
	// election and n1 preempt it (through a release: a short gap) before.
	if u := w.obs.Snapshot().VIP(vip).UnheldAfter(at); u != 0 {
		t.Errorf("VIP unheld for %s while the gateway was down for everyone, want 0", u)
	}
}

// TestArbiterZombieHolder: before claiming after an unclean loss, a backup
// probes for the VIP (RFC 5227). A host still answering for it — here the
// client, as a stand-in for a zombie ex-master — makes it alarm and not
// claim; once the zombie is gone it claims.
func TestArbiterZombieHolder(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	if err := w.vipd["n1"].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	zombie := w.lab.Client
	if out, err := zombie.Exec(context.Background(), "ip", "addr", "add", vip.String()+"/24", "dev", "eth0"); err != nil {
		t.Fatalf("zombie VIP: %v %s", err, out)
	}
	// n1's lease expires after ~5 s; n2 would claim then, but the zombie
	// answers its probes.
	time.Sleep(9 * time.Second)
	if hs := w.obs.Holders(vip); len(hs) != 0 {
		t.Fatalf("a node claimed the VIP although another host answers for it: %v", hs)
	}
	st, err := w.vipd["n2"].Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a := st.Instances[0].Arbiter; a == nil || !strings.Contains(a.Reason, "answers for "+vip.String()) {
		t.Errorf("n2 arbiter status %+v; want the zombie alarm", a)
	}
	if out, err := zombie.Exec(context.Background(), "ip", "addr", "del", vip.String()+"/24", "dev", "eth0"); err != nil {
		t.Fatalf("remove zombie VIP: %v %s", err, out)
	}
	w.waitHolder(t, vip, "n2", 15*time.Second)
	w.assertNoSplitBrain(t, vip)
}

// TestArbiterEmbeddedEtcd: three vipd hosts form their own etcd cluster
// (embedded_etcd, etcd 3.6 inside vipd) without any etcd installed; a
// planned handover and a master cut from its peers (its member then in the
// minority) keep a single holder.
func TestArbiterEmbeddedEtcd(t *testing.T) {
	w := newWorld(t, 3)
	vip := w.watch(t, 200)[0]
	var initial []string
	for _, n := range w.lab.Nodes {
		initial = append(initial, fmt.Sprintf("%s=http://%s:2380", n.Name, n.Addr4))
	}
	for i, p := range []int{150, 120, 100} {
		n := w.lab.Nodes[i]
		conf := fmt.Sprintf(`
arbiter {
    embedded_etcd {
        name %s
        data_dir %s
        peer_url http://%s:2380
        client_url http://%s:2379
        initial_cluster %s
    }
}
`, n.Name, filepath.Join(w.dir, "etcd-"+n.Name), n.Addr4, n.Addr4, strings.Join(initial, " ")) + instanceConf("VI_1", 51, p, vip, "")
		w.start(t, i, conf)
	}
	w.waitHolder(t, vip, "n1", 30*time.Second)
	at := time.Now()
	cutFromPeers(t, w, w.lab.Nodes[0])
	w.waitHolder(t, vip, "n2", 30*time.Second)
	w.holdsOnly(t, vip, "n2", 300*time.Millisecond)
	t.Logf("embedded etcd, master cut from its peers (its member in the minority): VIP unheld %s", w.obs.Snapshot().VIP(vip).Gap(at))
	w.lab.HealAll()
	w.assertNoSplitBrain(t, vip)
}

// TestArbiterHandoverTo: `vipctl handover VI_1 --to n3` gives n3 the key
// although n2 has the higher priority among the backups (n2 waits a head
// start). Preemption afterwards is VRRP's business: n2 (120, preempt) takes
// it from n3 (100) through the arbiter, never with two holders.
func TestArbiterHandoverTo(t *testing.T) {
	w, _, vip := arbiterWorld(t)
	at := time.Now()
	out, err := exec.Command(Binary(t, "vipctl"), "--control-socket", w.vipd["n1"].Socket, "handover", "VI_1", "--to", "n3").CombinedOutput()
	if err != nil {
		t.Fatalf("vipctl handover --to n3: %v: %s", err, out)
	}
	// The first new holder must be n3.
	var first []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if hs := w.obs.Holders(vip); len(hs) > 0 && !slices.Contains(hs, "n1") {
			first = hs
			break
		}
	}
	if !slices.Equal(first, []string{"n3"}) {
		t.Errorf("first holder after handover --to n3 = %v, want [n3]", first)
	}
	t.Logf("vipctl handover --to n3: VIP unheld %s", w.obs.Snapshot().VIP(vip).Gap(at))
	w.assertNoSplitBrain(t, vip)
}
