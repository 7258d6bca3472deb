package vrrp

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/arbiter/mastership"
)

// fakeKeys is an in-memory etcd for the fake arbiters of one test: who
// owns each unit, and who stands for it.
type fakeKeys struct {
	mu     sync.Mutex
	owner  map[string]string
	token  int64
	stands map[string]map[string]uint8
	arbs   []*fakeArbiter
	grants []string // every grant, in order: "unit node"
}

// fakeArbiter is one node's mastership.Arbiter over fakeKeys: grants never
// expire unless revoked by the test.
type fakeArbiter struct {
	keys   *fakeKeys
	node   string
	events chan mastership.Event
	mu     sync.Mutex
	held   map[string]int64
	claims int
	// slow delays the Freed events this node sees (a loaded host).
	slow time.Duration
}

var _ mastership.Arbiter = (*fakeArbiter)(nil)

func (k *fakeKeys) arbiter(node string) *fakeArbiter {
	a := &fakeArbiter{keys: k, node: node, events: make(chan mastership.Event, 64), held: map[string]int64{}}
	k.mu.Lock()
	k.arbs = append(k.arbs, a)
	k.mu.Unlock()
	return a
}

func (a *fakeArbiter) Claim(unit string, prio uint8) {
	k := a.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	a.mu.Lock()
	a.claims++
	a.mu.Unlock()
	if o := k.owner[unit]; o != "" && o != a.node {
		a.events <- mastership.Event{Unit: unit, Kind: mastership.Denied, Holder: o, Reason: "held by " + o}
		return
	}
	k.token++
	k.owner[unit] = a.node
	k.grants = append(k.grants, unit+" "+a.node)
	a.mu.Lock()
	a.held[unit] = k.token
	a.mu.Unlock()
	a.events <- mastership.Event{Unit: unit, Kind: mastership.Granted, Grant: mastership.Grant{Token: k.token, Lifetime: 2 * time.Second}}
}

func (a *fakeArbiter) Release(unit, to string) {
	k := a.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	a.mu.Lock()
	delete(a.held, unit)
	a.mu.Unlock()
	if k.owner[unit] != a.node {
		return
	}
	delete(k.owner, unit)
	k.freeLocked(unit, a.node, to, true)
}

// freeLocked tells every other node the unit is free, with the order.
func (k *fakeKeys) freeLocked(unit, from, to string, clean bool) {
	var order []string
	for n := range k.stands[unit] {
		if n != from {
			order = append(order, n)
		}
	}
	slices.SortFunc(order, func(x, y string) int {
		return cmp.Or(cmp.Compare(k.stands[unit][y], k.stands[unit][x]), strings.Compare(x, y))
	})
	for _, o := range k.arbs {
		if o.node != from {
			ev := mastership.Event{Unit: unit, Kind: mastership.Freed, Holder: from, Clean: clean, Target: to, Order: order}
			time.AfterFunc(o.slow, func() { o.events <- ev })
		}
	}
}

func (a *fakeArbiter) Grant(unit string, now time.Time) (mastership.Grant, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tok, ok := a.held[unit]
	return mastership.Grant{Token: tok, ValidUntil: now.Add(time.Hour), Lifetime: 2 * time.Second}, ok
}

func (a *fakeArbiter) Stand(unit string, prio uint8) {
	k := a.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stands[unit] == nil {
		k.stands[unit] = map[string]uint8{}
	}
	if prio == 0 {
		delete(k.stands[unit], a.node)
		return
	}
	k.stands[unit][a.node] = prio
}

func (a *fakeArbiter) Prepare([]string)                {}
func (a *fakeArbiter) Events() <-chan mastership.Event { return a.events }
func (k *fakeKeys) standing(unit string) map[string]uint8 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.stands[unit])
}

// revoke takes the unit from its holder as an expired lease would: the
// holder is told, the others see the key freed (not cleanly).
func (k *fakeKeys) revoke(unit string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	holder := k.owner[unit]
	delete(k.owner, unit)
	for _, a := range k.arbs {
		if a.node == holder {
			a.mu.Lock()
			delete(a.held, unit)
			a.mu.Unlock()
			a.events <- mastership.Event{Unit: unit, Kind: mastership.Revoked, Reason: "lease expired"}
		}
	}
	k.freeLocked(unit, holder, "", false)
}

// grantsSince lists the grants made after the first n.
func (k *fakeKeys) grantsSince(n int) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.grants[n:])
}

func (k *fakeKeys) grantCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.grants)
}

func (k *fakeKeys) holder(unit string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.owner[unit]
}

// testHeadStart is longer than any stall of a loaded test machine, so the
// order, not the machine's load, decides who claims a freed key.
const testHeadStart = 10 * time.Second

func withArbiter(a *fakeArbiter) func(*Options) {
	return func(o *Options) { o.Arbiter, o.Node, o.HeadStart = a, a.node, testHeadStart }
}

// gatedTrio starts three gated nodes (150, 120, 100) and waits for n1.
func gatedTrio(t *testing.T) (*fakeKeys, []*node) {
	t.Helper()
	lan := &fakeLAN{}
	keys := &fakeKeys{owner: map[string]string{}, stands: map[string]map[string]uint8{}}
	var nodes []*node
	for i, p := range []int{150, 120, 100} {
		addr := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}[i]
		nodes = append(nodes, startNode(t, lan, addr, fastConf(p, ""), withArbiter(keys.arbiter([]string{"n1", "n2", "n3"}[i]))))
	}
	eventually(t, "n1 holds", func() bool { return keys.holder("VI_1") == "n1" && len(nodes[0].addrs.held()) == 1 })
	eventually(t, "n2 and n3 stand", func() bool { return len(keys.standing("VI_1")) == 2 })
	return keys, nodes
}

// A handover goes to the best candidate at once, even when it learns of
// the release last (a loaded host), and the others, who hear the new master
// before their turn, never claim.
func TestEngineHandoverGoesToTheBestCandidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys, nodes := gatedTrio(t)
		nodes[1].engine.opt.Arbiter.(*fakeArbiter).slow = 50 * time.Millisecond
		if got, want := keys.standing("VI_1"), map[string]uint8{"n2": 120, "n3": 100}; !maps.Equal(got, want) {
			t.Fatalf("candidates %v, want %v", got, want)
		}
		before := keys.grantCount()
		if err := nodes[0].engine.Handover(context.Background(), "VI_1", ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "n2 holds", func() bool { return keys.holder("VI_1") == "n2" && len(nodes[1].addrs.held()) == 1 })
		// Straight to n2: n3 never had the key on the way.
		if got := keys.grantsSince(before); !slices.Equal(got, []string{"VI_1 n2"}) {
			t.Errorf("grants after the handover %v, want only n2's", got)
		}
		// The old master holds off: it is no candidate.
		if got, want := keys.standing("VI_1"), map[string]uint8{"n3": 100}; !maps.Equal(got, want) {
			t.Errorf("candidates %v after the handover, want only n3 (n1 holds off, n2 holds)", got)
		}
	})
}

// A node that lost its grant is damped: no candidacy, and its denied claims
// do not force the new holder out, so the VIP does not bounce back to it.
func TestEngineLostGrantDampsPreemption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys, nodes := gatedTrio(t)
		granted := keys.grantCount()
		keys.revoke("VI_1") // n1's lease expired (a lossy link)
		eventually(t, "n2 holds", func() bool { return keys.holder("VI_1") == "n2" && len(nodes[1].addrs.held()) == 1 })
		if len(nodes[0].addrs.held()) != 0 {
			t.Fatalf("n1 kept its VIPs after the revocation")
		}
		// n1 (150) hears n2 (120) and claims as a preempting backup would, but
		// does not force n2 out while damped.
		n1 := nodes[0].engine.opt.Arbiter.(*fakeArbiter)
		before := n1.claimCount()
		eventually(t, "n1 claims again", func() bool { return n1.claimCount() > before+1 })
		time.Sleep(time.Second) // (fake time) a forced release would have moved the key by now
		if got := keys.grantsSince(granted); !slices.Equal(got, []string{"VI_1 n2"}) {
			t.Errorf("grants since the revocation %v, want only n2's: the VIP must stay there while n1 is damped", got)
		}
		if _, ok := keys.standing("VI_1")["n1"]; ok {
			t.Errorf("damped n1 stands as a candidate")
		}
		st, _ := nodes[0].engine.Status(context.Background())
		if st[0].State != "BACKUP" {
			t.Errorf("n1 is %s, want BACKUP", st[0].State)
		}
	})
}

func (a *fakeArbiter) claimCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.claims
}
