package arbiter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/arbiter/mastership"
)

func TestDecide(t *testing.T) {
	now := time.Unix(1000, 0)
	ok := func(mod func(*Inputs)) Inputs {
		in := Inputs{
			Now: now, Node: "n1",
			EtcdOK: true, LifetimeOK: true, Lifetime: 2 * time.Second,
			GatewayOK: true,
			HoldUntil: now.Add(-time.Second),
		}
		if mod != nil {
			mod(&in)
		}
		return in
	}
	tests := []struct {
		name string
		in   Inputs
		want Verdict
	}{
		{"all good", ok(nil), Verdict{Allow: true}},
		{"no lease", ok(func(in *Inputs) { in.EtcdOK = false; in.EtcdReason = "etcd unreachable: deadline exceeded" }),
			Verdict{Reason: "etcd unreachable: deadline exceeded"}},
		{"no lease, no reason", ok(func(in *Inputs) { in.EtcdOK = false }), Verdict{Reason: "no valid etcd lease"}},
		{"budget too short for the fence", ok(func(in *Inputs) { in.LifetimeOK = false }),
			Verdict{Reason: "lease budget too short to fence VIPs in the kernel"}},
		{"gateway down", ok(func(in *Inputs) { in.GatewayOK = false; in.GatewayReason = "3 probes of 192.0.2.1 unanswered" }),
			Verdict{Reason: "gateway unreachable: 3 probes of 192.0.2.1 unanswered"}},
		{"etcd wins over gateway as the reason", ok(func(in *Inputs) { in.GatewayOK = false; in.EtcdOK = false; in.EtcdReason = "x" }),
			Verdict{Reason: "x"}},
		{"startup hold", ok(func(in *Inputs) { in.HoldUntil = now.Add(1500 * time.Millisecond) }),
			Verdict{Reason: "startup hold for another 1.5s"}},
		{"hold ends exactly now", ok(func(in *Inputs) { in.HoldUntil = now }), Verdict{Allow: true}},
		{"grace after an unclean loss", ok(func(in *Inputs) { in.GraceUntil = now.Add(200 * time.Millisecond) }),
			Verdict{Reason: "grace after unclean loss of the previous holder, 200ms left"}},
		{"gossip: newer holder", ok(func(in *Inputs) {
			in.KnownToken = 40
			in.Holders = []Holder{{Node: "n2", Token: 41, State: "MASTER"}}
		}), Verdict{Reason: "gossip shows n2 holding it with token 41"}},
		{"gossip: stale holder (token etcd already ended)", ok(func(in *Inputs) {
			in.KnownToken = 41
			in.Holders = []Holder{{Node: "n2", Token: 41, State: "MASTER"}}
		}), Verdict{Allow: true}},
		{"gossip: backups do not block", ok(func(in *Inputs) {
			in.Holders = []Holder{{Node: "n2", Token: 50, State: "BACKUP"}, {Node: "n3", State: "FAULT"}}
		}), Verdict{Allow: true}},
		{"gossip: ourselves do not block", ok(func(in *Inputs) {
			in.Holders = []Holder{{Node: "n1", Token: 50, State: "MASTER"}}
		}), Verdict{Allow: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Decide(tt.in)); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConflict(t *testing.T) {
	holders := []Holder{
		{Node: "n1", Token: 90, State: "MASTER"},
		{Node: "n2", Token: 70, State: "MASTER"},
		{Node: "n3", Token: 99, State: "BACKUP"},
	}
	tests := []struct {
		node  string
		token int64
		want  string // conflicting node, "" for none
	}{
		{"n2", 70, "n1"}, // n2 holds 70, n1 has the newer 90: n2 steps down
		{"n1", 90, ""},   // the newest holder keeps it
		{"n3", 0, "n1"},  // a claimant that knows of no token sees n1 first
		{"n3", 95, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s_%d", tt.node, tt.token), func(t *testing.T) {
			h, ok := Conflict(tt.node, tt.token, holders)
			if got := map[bool]string{true: h.Node, false: ""}[ok]; got != tt.want {
				t.Errorf("Conflict = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShouldHandOver(t *testing.T) {
	tests := []struct {
		name  string
		gwOK  bool
		cands []Candidate
		want  bool
	}{
		{"holder healthy", true, []Candidate{{Node: "n2", GatewayOK: true, Eligible: true}}, false},
		{"holder down, healthy candidate", false, []Candidate{{Node: "n2", GatewayOK: false, Eligible: true}, {Node: "n3", GatewayOK: true, Eligible: true}}, true},
		{"gateway down for everyone: keep", false, []Candidate{{Node: "n2", Eligible: true}, {Node: "n3", Eligible: true}}, false},
		{"only healthy candidate is not eligible", false, []Candidate{{Node: "n2", GatewayOK: true}}, false},
		{"no candidates", false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShouldHandOver(tt.gwOK, tt.cands); got != tt.want {
				t.Errorf("ShouldHandOver = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEventQueueNeverDropsOrBlocks(t *testing.T) {
	q := newEventQueue()
	// Nobody reads: pushes must not block. Renewed/Freed coalesce per
	// unit; everything else is kept in order.
	for i := range 1000 {
		q.push(mastership.Event{Unit: "vi_1", Kind: mastership.Renewed, Reason: fmt.Sprint(i)})
		q.push(mastership.Event{Unit: "vi_2", Kind: mastership.Freed, Reason: fmt.Sprint(i)})
	}
	for i := range 200 {
		q.push(mastership.Event{Unit: fmt.Sprintf("vi_%d", i), Kind: mastership.Revoked})
	}
	q.mu.Lock()
	n := len(q.q)
	first := q.q[0]
	q.mu.Unlock()
	if n != 202 {
		t.Fatalf("queued %d events, want 202 (1 Renewed, 1 Freed, 200 Revoked)", n)
	}
	if first.Reason != "999" {
		t.Errorf("coalesced Renewed carries %q, want the latest (999)", first.Reason)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.pump(ctx)
	revoked := 0
	for range n {
		if ev := <-q.out; ev.Kind == mastership.Revoked {
			revoked++
		}
	}
	if revoked != 200 {
		t.Errorf("delivered %d Revoked, want 200", revoked)
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name, key string
	}{
		{"VI_1", "/vipd/instances/VI_1/owner"},
		{GroupName("G1"), "/vipd/instances/group:G1/owner"},
		{"a/b c", "/vipd/instances/a%2Fb%20c/owner"},
	}
	for _, tt := range tests {
		if got := ownerKey("/vipd", tt.name); got != tt.key {
			t.Errorf("ownerKey(%q) = %q, want %q", tt.name, got, tt.key)
		}
		name, owner, ok := parseKey("/vipd", tt.key)
		if name != tt.name || !owner || !ok {
			t.Errorf("parseKey(%q) = %q, %v, %v", tt.key, name, owner, ok)
		}
		name, owner, ok = parseKey("/vipd", releasedKey("/vipd", tt.name))
		if name != tt.name || owner || !ok {
			t.Errorf("parseKey(released %q) = %q, %v, %v", tt.name, name, owner, ok)
		}
	}
	for _, k := range []string{"/other/instances/x/owner", "/vipd/instances/x/other", "/vipd/instances/a/b/owner"} {
		if _, _, ok := parseKey("/vipd", k); ok {
			t.Errorf("parseKey(%q) ok, want not ours", k)
		}
	}
}
