package arbiter

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/arbiter/mastership"
	"github.com/vipd/vipd/internal/clock"
)

// testConfig is the configuration the etcd tests use: no startup hold, so
// claims go out as soon as the lease exists.
func testConfig(t *testing.T, node string) Config {
	return Config{Node: node, Prefix: testPrefix(t), StartupHold: -1}
}

func startArbiter(t *testing.T, cfg Config, cli etcdClient, clk clock.Clock) *Arbiter {
	t.Helper()
	a := newArbiter(cfg, cli, clk, testLogger(t).With("node", cfg.Node))
	running(t, a)
	waitLease(t, a)
	return a
}

func readOwner(t *testing.T, cli *clientv3.Client, prefix, name string) (Owner, int64, bool) {
	t.Helper()
	resp, err := cli.Get(context.Background(), ownerKey(prefix, name))
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(resp.Kvs) == 0 {
		return Owner{}, 0, false
	}
	var o Owner
	if err := json.Unmarshal(resp.Kvs[0].Value, &o); err != nil {
		t.Fatalf("owner value %q: %v", resp.Kvs[0].Value, err)
	}
	return o, resp.Kvs[0].CreateRevision, true
}

func TestTwoClaimantsThenHandover(t *testing.T) {
	cli := newClient(t, sharedEtcd.endpoint)
	a1 := startArbiter(t, testConfig(t, "n1"), newClient(t, sharedEtcd.endpoint), nil)
	a2 := startArbiter(t, testConfig(t, "n2"), newClient(t, sharedEtcd.endpoint), nil)
	const key = "VI_1"

	a1.Claim(key, 150)
	ev1 := next(t, a1, key)
	if ev1.Kind != mastership.Granted {
		t.Fatalf("n1: %s (%s), want granted", ev1.Kind, ev1.Reason)
	}
	a2.Claim(key, 100)
	ev2 := next(t, a2, key)
	if ev2.Kind != mastership.Denied {
		t.Fatalf("n2: %s (%s), want denied", ev2.Kind, ev2.Reason)
	}

	o, rev, ok := readOwner(t, cli, testPrefix(t), key)
	if !ok {
		t.Fatalf("owner key missing")
	}
	if ev1.Grant.Token != rev {
		t.Errorf("token %d, want the key's CreateRevision %d", ev1.Grant.Token, rev)
	}
	if o.Node != "n1" || o.Priority != 150 || o.Lease != int64(a1.leaseID) {
		t.Errorf("owner value %+v, want node n1, priority 150, lease %x", o, a1.leaseID)
	}
	if ev2.Holder != "n1" || ev2.Grant.Token != rev {
		t.Errorf("denial names %q token %d, want n1 token %d", ev2.Holder, ev2.Grant.Token, rev)
	}
	if want := "held by n1, token "; !strings.HasPrefix(ev2.Reason, want) {
		t.Errorf("denial reason %q, want prefix %q", ev2.Reason, want)
	}
	if g, ok := a1.Grant(key, time.Now()); !ok || g.Token != rev || g.Lifetime < time.Second {
		t.Errorf("n1 Grant = %+v, %v; want token %d with a lifetime ≥ 1s", g, ok, rev)
	}
	if _, ok := a2.Grant(key, time.Now()); ok {
		t.Errorf("n2 Grant ok while n1 holds the key")
	}

	// Planned handover: n1 steps down (VIPs removed) and releases; n2 is
	// told at once and wins.
	start := time.Now()
	a1.Release(key, "")
	if _, ok := a1.Grant(key, time.Now()); ok {
		t.Errorf("n1 Grant ok after Release")
	}
	fr := next(t, a2, key)
	if fr.Kind != mastership.Freed || fr.Holder != "n1" {
		t.Fatalf("n2 got %s (holder %q, %s), want freed by n1", fr.Kind, fr.Holder, fr.Reason)
	}
	freed := time.Since(start)
	a2.Claim(key, 100)
	ev := next(t, a2, key)
	if ev.Kind != mastership.Granted {
		t.Fatalf("n2 after release: %s (%s), want granted", ev.Kind, ev.Reason)
	}
	t.Logf("handover: release → n2 freed %s, → n2 granted %s (%s)", freed, time.Since(start), fr.Reason)
	if ev.Grant.Token <= rev {
		t.Errorf("new token %d not above the old %d", ev.Grant.Token, rev)
	}
	if o, _, _ := readOwner(t, cli, testPrefix(t), key); o.Node != "n2" {
		t.Errorf("owner after handover = %q, want n2", o.Node)
	}
}

func TestLeaseRevokedFromOutside(t *testing.T) {
	cli := newClient(t, sharedEtcd.endpoint)
	a1 := startArbiter(t, testConfig(t, "n1"), newClient(t, sharedEtcd.endpoint), nil)
	a2 := startArbiter(t, testConfig(t, "n2"), newClient(t, sharedEtcd.endpoint), nil)
	const key = "VI_2"
	a1.Claim(key, 100)
	if ev := next(t, a1, key); ev.Kind != mastership.Granted {
		t.Fatalf("n1: %s (%s)", ev.Kind, ev.Reason)
	}
	a2.Claim(key, 100)
	if ev := next(t, a2, key); ev.Kind != mastership.Denied {
		t.Fatalf("n2: %s (%s)", ev.Kind, ev.Reason)
	}

	a1.mu.Lock()
	id := a1.leaseID
	a1.mu.Unlock()
	start := time.Now()
	if _, err := cli.Revoke(context.Background(), id); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	ev := next(t, a1, key)
	if ev.Kind != mastership.Revoked {
		t.Fatalf("n1: %s (%s), want revoked", ev.Kind, ev.Reason)
	}
	t.Logf("revoked after %s: %s", time.Since(start), ev.Reason)
	if !strings.HasPrefix(ev.Reason, "key lost") && ev.Reason != "lease not found" {
		t.Errorf("reason %q, want key lost or lease not found", ev.Reason)
	}
	if ev.Cause != mastership.CauseKeyLost && ev.Cause != mastership.CauseLease {
		t.Errorf("cause %d, want key lost or lease", ev.Cause)
	}
	if _, ok := a1.Grant(key, time.Now()); ok {
		t.Errorf("n1 Grant ok after its lease was revoked")
	}
	// n2 is not told at once: an outside revoke is unclean, and the old
	// holder may still have its VIPs until it notices.
	fr := next(t, a2, key)
	if fr.Kind != mastership.Freed || !strings.Contains(fr.Reason, "grace") {
		t.Errorf("n2: %s (%s), want freed after the grace", fr.Kind, fr.Reason)
	}
	t.Logf("n2 freed %s after the revoke", time.Since(start))
	a2.Claim(key, 100)
	if ev := next(t, a2, key); ev.Kind != mastership.Granted {
		t.Errorf("n2 claim after the revoke: %s (%s)", ev.Kind, ev.Reason)
	}
}

// TestKeepAliveMovesDeadlineFromSendTime runs the real keepalive against
// etcd with a fake clock that stands still during RPCs, so the deadline
// can be checked exactly.
func TestKeepAliveMovesDeadlineFromSendTime(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(t, "n1")
	// etcd expires leases in real time, and the fake clock sends no
	// keepalive until the test advances it: a long TTL keeps a starved
	// test machine from expiring the lease between two steps.
	cfg.LeaseTTL = 30 * time.Second
	a := startArbiter(t, cfg, newClient(t, sharedEtcd.endpoint), clock)
	const key = "VI_3"
	a.Claim(key, 100)
	ev := next(t, a, key)
	if ev.Kind != mastership.Granted {
		t.Fatalf("claim: %s (%s)", ev.Kind, ev.Reason)
	}
	window := 30*time.Second - 30*time.Millisecond - 500*time.Millisecond // TTL(1−ρ)−m
	for i := range 3 {
		parked(t, clock, 2) // the keepalive sleep and the deadline timer
		clock.Advance(500 * time.Millisecond)
		sent := clock.Now()
		ev := next(t, a, key, mastership.Renewed)
		if want := sent.Add(window); !ev.Grant.ValidUntil.Equal(want) {
			t.Errorf("renewal %d: ValidUntil = send%+v, want send+%s", i, ev.Grant.ValidUntil.Sub(sent), window)
		}
		if ev.Grant.Lifetime != 27*time.Second { // whole seconds of window − 1.5 s kernel lateness
			t.Errorf("renewal %d: lifetime %s, want 27s", i, ev.Grant.Lifetime)
		}
	}
}

// TestEtcdDownRevokedAtDeadline stops etcd under a holder: the grant must
// end exactly at the local deadline, with the event and with Grant().
func TestEtcdDownRevokedAtDeadline(t *testing.T) {
	e, err := startEtcd(t.TempDir())
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(e.e.Close)
	clock := newFakeClock()
	cfg := testConfig(t, "n1")
	// Long enough that the server does not expire the lease in real time
	// while the fake clock runs the test (no keepalives are sent until it
	// advances).
	cfg.LeaseTTL = 30 * time.Second
	cfg.RPCTimeout = 200 * time.Millisecond // keep the failing RPCs short in real time
	a := startArbiter(t, cfg, newClient(t, e.endpoint), clock)
	const key = "VI_4"
	a.Claim(key, 100)
	ev := next(t, a, key)
	if ev.Kind != mastership.Granted {
		t.Fatalf("claim: %s (%s)", ev.Kind, ev.Reason)
	}
	D := ev.Grant.ValidUntil
	start := time.Now()
	e.e.Server.HardStop() // the raft server stops; the client's RPCs fail
	t.Logf("etcd stopped in %s", time.Since(start))

	// Just before D the grant still exists (though too close to D to
	// refresh VIPs); at D exactly it is revoked.
	clock.AdvanceTo(D.Add(-time.Nanosecond))
	a.mu.Lock()
	held := a.units[key].held
	a.mu.Unlock()
	if !held {
		t.Errorf("grant gone before D")
	}
	if g, ok := a.Grant(key, D.Add(-3*time.Second)); !ok || g.Lifetime != time.Second {
		t.Errorf("Grant at D−3s = %+v, %v; want a 1s lifetime", g, ok)
	}
	clock.AdvanceTo(D)
	if _, ok := a.Grant(key, D); ok {
		t.Errorf("Grant ok at D")
	}
	if _, ok := a.Grant(key, D.Add(-3*time.Second)); ok {
		t.Errorf("Grant ok after the revocation, asked for an earlier time")
	}
	rv := next(t, a, key)
	if rv.Kind != mastership.Revoked || !strings.Contains(rv.Reason, "lease deadline passed") || rv.Cause != mastership.CauseLease {
		t.Errorf("got %s (%s, cause %d), want revoked: lease deadline passed", rv.Kind, rv.Reason, rv.Cause)
	}
	t.Logf("revoked at D: %s", rv.Reason)
}

func TestStaleKeyOfPreviousIncarnation(t *testing.T) {
	for _, viaPrepare := range []bool{false, true} {
		name := map[bool]string{false: "cleaned on claim", true: "Prepare"}[viaPrepare]
		t.Run(name, func(t *testing.T) {
			cli := newClient(t, sharedEtcd.endpoint)
			prefix := testPrefix(t)
			const key = "VI_5"
			// The previous incarnation (killed with -9): its lease and key
			// are still alive.
			old, err := cli.Grant(context.Background(), 30)
			if err != nil {
				t.Fatalf("grant: %v", err)
			}
			val, _ := json.Marshal(Owner{Node: "n1", Lease: int64(old.ID), Incarnation: "previous"})
			put, err := cli.Put(context.Background(), ownerKey(prefix, key), string(val), clientv3.WithLease(old.ID))
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			oldToken := put.Header.Revision

			a := startArbiter(t, testConfig(t, "n1"), newClient(t, sharedEtcd.endpoint), nil)
			if viaPrepare {
				a.Prepare(nil)
				ttl := waitLeaseGone(t, cli, old.ID)
				if _, _, ok := readOwner(t, cli, prefix, key); ok {
					t.Errorf("stale key still there after Prepare")
				}
				t.Logf("old lease TTL after Prepare: %d", ttl)
			}
			a.Claim(key, 100)
			ev := next(t, a, key)
			if ev.Kind != mastership.Granted {
				t.Fatalf("claim: %s (%s)", ev.Kind, ev.Reason)
			}
			if ev.Grant.Token == oldToken {
				t.Errorf("adopted the previous incarnation's key (token %d)", oldToken)
			}
			o, rev, _ := readOwner(t, cli, prefix, key)
			if o.Lease == int64(old.ID) || o.Incarnation == "previous" || rev != ev.Grant.Token {
				t.Errorf("owner %+v rev %d: want our new lease and token %d", o, rev, ev.Grant.Token)
			}
		})
	}
}

// waitLeaseGone waits until etcd no longer knows the lease (TTL −1).
func waitLeaseGone(t *testing.T, cli *clientv3.Client, id clientv3.LeaseID) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := cli.TimeToLive(context.Background(), id)
		if err == nil && resp.TTL == -1 {
			return resp.TTL
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %x still alive 10s after Prepare (ttl %v, err %v)", id, resp, err)
		}
		time.Sleep(20 * time.Millisecond) // polling etcd, not asserting timing
	}
}

// faultyClient applies (or not) a transaction and then reports an error,
// as a connection breaking at the wrong moment does.
type faultyClient struct {
	*clientv3.Client
	mode  atomic.Value // "after": apply, then fail; "before": fail without applying
	fails atomic.Int32 // how many more Commits fail
}

var errInjected = errors.New("injected: connection reset after send")

func (f *faultyClient) Txn(ctx context.Context) clientv3.Txn {
	return &faultyTxn{Txn: f.Client.Txn(ctx), f: f}
}

type faultyTxn struct {
	clientv3.Txn
	f *faultyClient
}

func (t *faultyTxn) If(cs ...clientv3.Cmp) clientv3.Txn   { t.Txn = t.Txn.If(cs...); return t }
func (t *faultyTxn) Then(ops ...clientv3.Op) clientv3.Txn { t.Txn = t.Txn.Then(ops...); return t }
func (t *faultyTxn) Else(ops ...clientv3.Op) clientv3.Txn { t.Txn = t.Txn.Else(ops...); return t }

func (t *faultyTxn) Commit() (*clientv3.TxnResponse, error) {
	if t.f.fails.Add(-1) < 0 {
		return t.Txn.Commit()
	}
	if t.f.mode.Load() == "after" {
		if _, err := t.Txn.Commit(); err != nil {
			return nil, err
		}
	}
	return nil, errInjected
}

func TestIndeterminateTransactions(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		fails      int32
		otherHolds bool
		want       mastership.Kind
	}{
		{"claim applied, then error: re-read finds it ours", "after", 1, false, mastership.Granted},
		{"claim not applied, error: re-read finds nothing, retry wins", "before", 1, false, mastership.Granted},
		{"claim errors twice, third try wins", "before", 2, false, mastership.Granted},
		{"claim never gets through", "before", claimAttempts, false, mastership.Denied},
		{"someone else holds it, error: denied with the holder", "before", 1, true, mastership.Denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli := newClient(t, sharedEtcd.endpoint)
			fc := &faultyClient{Client: newClient(t, sharedEtcd.endpoint)}
			fc.mode.Store(tt.mode)
			const key = "VI_6"
			if tt.otherHolds {
				other := startArbiter(t, testConfig(t, "n2"), newClient(t, sharedEtcd.endpoint), nil)
				other.Claim(key, 100)
				if ev := next(t, other, key); ev.Kind != mastership.Granted {
					t.Fatalf("n2: %s (%s)", ev.Kind, ev.Reason)
				}
			}
			a := startArbiter(t, testConfig(t, "n1"), fc, nil)
			fc.fails.Store(tt.fails)
			a.Claim(key, 100)
			ev := next(t, a, key)
			if ev.Kind != tt.want {
				t.Fatalf("got %s (%s), want %s", ev.Kind, ev.Reason, tt.want)
			}
			o, rev, ok := readOwner(t, cli, testPrefix(t), key)
			switch {
			case ev.Kind == mastership.Granted && (o.Node != "n1" || rev != ev.Grant.Token):
				t.Errorf("granted token %d but the key is %+v rev %d", ev.Grant.Token, o, rev)
			case tt.otherHolds && (ev.Holder != "n2" || rev != ev.Grant.Token):
				t.Errorf("denied naming %q token %d, key is %+v rev %d", ev.Holder, ev.Grant.Token, o, rev)
			case ev.Kind == mastership.Denied && !tt.otherHolds && ok:
				t.Errorf("denied but the key exists: %+v", o)
			}
			t.Logf("%s: %s", ev.Kind, ev.Reason)
		})
	}
}

func TestIndeterminateRelease(t *testing.T) {
	cli := newClient(t, sharedEtcd.endpoint)
	fc := &faultyClient{Client: newClient(t, sharedEtcd.endpoint)}
	fc.mode.Store("after")
	a := startArbiter(t, testConfig(t, "n1"), fc, nil)
	const key = "VI_7"
	a.Claim(key, 100)
	ev := next(t, a, key)
	if ev.Kind != mastership.Granted {
		t.Fatalf("claim: %s (%s)", ev.Kind, ev.Reason)
	}
	// The release transaction is applied but reports an error: the
	// re-read sees the key gone and the release counts as done.
	fc.fails.Store(1)
	if err := a.st.release(context.Background(), key, ev.Grant.Token, ""); err != nil {
		t.Errorf("release: %v", err)
	}
	if _, _, ok := readOwner(t, cli, testPrefix(t), key); ok {
		t.Errorf("key still there")
	}
}

// TestExitWaitsForUnreleasedVIPs: stopping the arbiter while the engine
// still holds a grant (a wrongly ordered shutdown) must not delete the key
// before every VIP lifetime handed out has run out.
func TestExitWaitsForUnreleasedVIPs(t *testing.T) {
	cli := newClient(t, sharedEtcd.endpoint)
	clock := newFakeClock()
	a := newArbiter(testConfig(t, "n1"), newClient(t, sharedEtcd.endpoint), clock, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitLease(t, a)
	const key = "VI_8"
	a.Claim(key, 100)
	if ev := next(t, a, key); ev.Kind != mastership.Granted {
		t.Fatalf("claim: %s (%s)", ev.Kind, ev.Reason)
	}
	g, ok := a.Grant(key, clock.Now()) // the engine installs VIPs with g.Lifetime
	if !ok {
		t.Fatalf("no grant")
	}
	cancel()
	// Run waits on its clock; the key must still be there meanwhile.
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) before the VIP lifetime ran out", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, _, ok := readOwner(t, cli, testPrefix(t), key); !ok {
		t.Fatalf("key deleted while our VIPs may still be up")
	}
	clock.Advance(g.Lifetime + 1500*time.Millisecond)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after the lifetime ran out")
	}
	if _, _, ok := readOwner(t, cli, testPrefix(t), key); ok {
		t.Errorf("key still there after exit")
	}
}

// kaRecorder records every KeepAliveOnce (lease and arbiter time) and can
// lose the replies of keepalives that etcd applied: the asymmetric
// partition where our sends arrive but nothing comes back.
type kaRecorder struct {
	*clientv3.Client
	clock     clock.Clock
	dropReply atomic.Bool

	mu    sync.Mutex
	calls []kaCall
}

type kaCall struct {
	id clientv3.LeaseID
	at time.Time
}

func (k *kaRecorder) KeepAliveOnce(ctx context.Context, id clientv3.LeaseID) (*clientv3.LeaseKeepAliveResponse, error) {
	k.mu.Lock()
	k.calls = append(k.calls, kaCall{id, k.clock.Now()})
	k.mu.Unlock()
	resp, err := k.Client.KeepAliveOnce(ctx, id)
	if k.dropReply.Load() {
		return nil, errInjected
	}
	return resp, err
}

func TestRepliesLostLeaseNotRenewedAfterDeadline(t *testing.T) {
	cli := newClient(t, sharedEtcd.endpoint)
	clock := newFakeClock()
	rec := &kaRecorder{Client: newClient(t, sharedEtcd.endpoint), clock: clock}
	cfg := testConfig(t, "n1")
	cfg.LeaseTTL = 30 * time.Second // the server must not expire it in real time
	a := startArbiter(t, cfg, rec, clock)
	const key = "VI_9"
	a.Claim(key, 100)
	ev := next(t, a, key)
	if ev.Kind != mastership.Granted {
		t.Fatalf("claim: %s (%s)", ev.Kind, ev.Reason)
	}
	D := ev.Grant.ValidUntil
	a.mu.Lock()
	old := a.leaseID
	a.mu.Unlock()

	rec.dropReply.Store(true)
	// Time runs to D, one timer at a time: every keepalive reaches etcd
	// (and renews the lease there) at its own time, and its reply is lost.
	// Each step waits until the keepalive loop is asleep again, so that no
	// keepalive races the clock's jump to the next timer.
	for {
		parked(t, clock, 2) // the keepalive sleep and the deadline timer
		d, _ := clock.Next()
		if !clock.Now().Add(d).Before(D) {
			break
		}
		clock.Advance(d)
	}
	waitCalls(t, rec, 1)
	clock.AdvanceTo(D)
	rv := next(t, a, key)
	if rv.Kind != mastership.Revoked || !strings.HasPrefix(rv.Reason, "etcd unreachable") || !strings.Contains(rv.Reason, "lease deadline passed") {
		t.Errorf("got %s (%s), want revoked: etcd unreachable … lease deadline passed", rv.Kind, rv.Reason)
	}
	rec.dropReply.Store(false)

	// After D the old lease is never renewed again, and once the margin
	// has passed it is revoked so it cannot linger as a zombie.
	clock.Advance(cfg.withDefaults().Margin)
	waitLeaseGone(t, cli, old)
	rec.mu.Lock()
	for _, c := range rec.calls {
		if c.id == old && !c.at.Before(D) {
			t.Errorf("keepalive for the dead lease at D%+v", c.at.Sub(D))
		}
	}
	rec.mu.Unlock()

	// A fresh lease serves future claims.
	var got mastership.Event
	for range 50 {
		a.Claim(key, 100)
		if got = next(t, a, key, mastership.Granted, mastership.Denied); got.Kind == mastership.Granted {
			break
		}
		time.Sleep(20 * time.Millisecond) // waiting for the new lease, not asserting timing
	}
	a.mu.Lock()
	cur := a.leaseID
	a.mu.Unlock()
	if got.Kind != mastership.Granted || cur == old || cur == 0 {
		t.Errorf("claim after the loss: %s (%s), lease %x (old %x)", got.Kind, got.Reason, cur, old)
	}
	if o, _, _ := readOwner(t, cli, testPrefix(t), key); o.Lease != int64(cur) {
		t.Errorf("key under lease %x, want the new %x", o.Lease, cur)
	}
}

func waitCalls(t *testing.T, rec *kaRecorder, n int) {
	t.Helper()
	for range 500 {
		rec.mu.Lock()
		got := len(rec.calls)
		rec.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(10 * time.Millisecond) // waiting for a goroutine, not asserting timing
	}
	t.Fatalf("fewer than %d keepalives sent", n)
}
