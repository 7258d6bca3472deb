package arbiter

import (
	"context"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/arbiter/mastership"
)

// waitCandidates waits until a's watch has seen want as the unit's
// candidates, in claim order.
func waitCandidates(t *testing.T, a *Arbiter, key string, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		got := a.orderLocked(key, "", "")
		a.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees candidates %v, want %v", a.cfg.Node, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A freed key comes with the candidates in claim order: priority first,
// the release's target before everyone, the releaser never; a withdrawn
// candidacy and one whose lease died drop out.
func TestFreedListsCandidatesInOrder(t *testing.T) {
	a1 := startArbiter(t, testConfig(t, "n1"), newClient(t, sharedEtcd.endpoint), nil)
	a2 := startArbiter(t, testConfig(t, "n2"), newClient(t, sharedEtcd.endpoint), nil)
	a3 := startArbiter(t, testConfig(t, "n3"), newClient(t, sharedEtcd.endpoint), nil)
	const key = "VI_1"

	a1.Claim(key, 150)
	if ev := next(t, a1, key); ev.Kind != mastership.Granted {
		t.Fatalf("n1: %s (%s), want granted", ev.Kind, ev.Reason)
	}
	a2.Prepare([]string{key})
	a3.Prepare([]string{key})
	a3.Stand(key, 100)
	a2.Stand(key, 120)
	waitCandidates(t, a3, key, []string{"n2", "n3"})

	a1.Release(key, "")
	for _, a := range []*Arbiter{a2, a3} {
		fr := next(t, a, key)
		if fr.Kind != mastership.Freed || !slices.Equal(fr.Order, []string{"n2", "n3"}) {
			t.Fatalf("%s: %s order %v, want freed with order [n2 n3]", a.cfg.Node, fr.Kind, fr.Order)
		}
	}

	// n3 claims and hands over to n1 by name: the target comes first even
	// though it is not the best priority; the releaser is not listed.
	a3.Stand(key, 0)
	a3.Claim(key, 100)
	if ev := next(t, a3, key); ev.Kind != mastership.Granted {
		t.Fatalf("n3: %s (%s), want granted", ev.Kind, ev.Reason)
	}
	a1.Prepare([]string{key})
	a1.Stand(key, 90)
	waitCandidates(t, a2, key, []string{"n2", "n1"})
	a3.Stand(key, 100) // a releaser standing again is still left out
	waitCandidates(t, a2, key, []string{"n2", "n3", "n1"})
	a3.Release(key, "n1")
	fr := next(t, a2, key)
	if fr.Kind != mastership.Freed || fr.Target != "n1" || !slices.Equal(fr.Order, []string{"n1", "n2"}) {
		t.Fatalf("n2: %s target %q order %v, want freed for n1 with order [n1 n2]", fr.Kind, fr.Target, fr.Order)
	}

	// A candidacy goes with its node's lease.
	a2.mu.Lock()
	id := a2.leaseID
	a2.mu.Unlock()
	if _, err := newClient(t, sharedEtcd.endpoint).Revoke(context.Background(), clientv3.LeaseID(id)); err != nil {
		t.Fatal(err)
	}
	waitCandidates(t, a1, key, []string{"n3", "n1"})
	// n2's new lease brings its candidacy back.
	waitCandidates(t, a1, key, []string{"n2", "n3", "n1"})
	a2.mu.Lock()
	renewed := a2.leaseID != id
	a2.mu.Unlock()
	if !renewed {
		t.Errorf("n2 still on lease %x after its revocation", id)
	}
}
