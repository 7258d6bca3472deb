package arbiter

import (
	"encoding/json"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/arbiter/mastership"
)

// TestWatchEvents feeds watch events to an arbiter that holds VI_1 with
// token 20 (no etcd needed) and checks what it concludes.
func TestWatchEvents(t *testing.T) {
	owner := func(node string, create, mod int64) *mvccpb.KeyValue {
		v, _ := json.Marshal(Owner{Node: node, Incarnation: "x"})
		return &mvccpb.KeyValue{Key: []byte(ownerKey("/p", "VI_1")), Value: v, CreateRevision: create, ModRevision: mod}
	}
	put := func(kv *mvccpb.KeyValue) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.PUT, Kv: kv}
	}
	del := func(prev *mvccpb.KeyValue, mod int64) *clientv3.Event {
		return &clientv3.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: prev.Key, ModRevision: mod}, PrevKv: prev}
	}
	tests := []struct {
		name      string
		evs       []*clientv3.Event
		want      []string // "kind: reason"
		stillHeld bool
	}{
		{"our own put", []*clientv3.Event{put(owner("n1", 20, 20))}, nil, true},
		{"late history: the previous holder's put and delete", []*clientv3.Event{
			put(owner("n2", 10, 10)), del(owner("n2", 10, 10), 15)}, nil, true},
		{"taken over", []*clientv3.Event{del(owner("n1", 20, 20), 30), put(owner("n2", 31, 31))},
			[]string{"revoked: key lost: deleted (lease expired or revoked)"}, false},
		{"overwritten", []*clientv3.Event{put(owner("n2", 31, 31))},
			[]string{"revoked: key lost: now held by n2"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newArbiter(Config{Node: "n1", Prefix: "/p"}, nil, newFakeClock(), testLogger(t))
			a.leaseID = 7
			a.dl.Start(a.clock.Now(), a.clock.Now(), DefaultLeaseTTL)
			u := a.unitLocked("VI_1")
			u.held, u.token, u.lease, u.interested = true, 20, 7, true
			a.applyWatch(tt.evs)
			var got []string
			for _, ev := range a.q.q {
				got = append(got, ev.Kind.String()+": "+ev.Reason)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("events %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
			if u.held != tt.stillHeld {
				t.Errorf("held = %v, want %v", u.held, tt.stillHeld)
			}
		})
	}
}

func TestGossipConflictRevokes(t *testing.T) {
	a := newArbiter(Config{Node: "n1", Prefix: "/p"}, nil, newFakeClock(), testLogger(t))
	a.leaseID = 7
	a.dl.Start(a.clock.Now(), a.clock.Now(), DefaultLeaseTTL)
	u := a.unitLocked("VI_1")
	u.held, u.token, u.lease = true, 20, 7
	if _, ok := a.Grant("VI_1", a.clock.Now()); !ok {
		t.Fatalf("no grant before the conflict")
	}
	// An older token elsewhere is the other node's problem.
	a.SetView("VI_1", []Holder{{Node: "n2", Token: 12, State: StateMaster}})
	if _, ok := a.Grant("VI_1", a.clock.Now()); !ok {
		t.Fatalf("grant lost to an older token")
	}
	a.SetView("VI_1", []Holder{{Node: "n2", Token: 25, State: StateMaster}})
	if _, ok := a.Grant("VI_1", a.clock.Now()); ok {
		t.Errorf("grant kept although n2 holds a newer token")
	}
	if n := len(a.q.q); n != 1 || a.q.q[0].Kind != mastership.Revoked || a.q.q[0].Cause != mastership.CauseConflict {
		t.Fatalf("events %+v, want one revoked for a conflict", a.q.q)
	}
	t.Logf("revoked: %s", a.q.q[0].Reason)
}
