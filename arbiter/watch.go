package arbiter

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/arbiter/mastership"
)

// The watch loop follows every key under <prefix>/instances/: a held key
// that changes hands or disappears revokes our grant; a deleted key of a
// unit we asked for is reported as Freed, so a denied claimant can claim at
// once instead of waiting for its VRRP timers. The watch requires a leader,
// so it breaks when our etcd member loses the quorum; every break is
// followed by a full re-read.

func (a *Arbiter) watchLoop(ctx context.Context) {
	first := true
	backoff := a.cfg.KeepAliveEvery
	for ctx.Err() == nil {
		kvs, rev, err := a.st.scan(ctx)
		if err != nil {
			a.log.Debug("scan failed", "err", err)
			a.sleepPlain(ctx, backoff)
			backoff = min(2*backoff, a.cfg.LeaseTTL)
			continue
		}
		backoff = a.cfg.KeepAliveEvery
		a.resync(kvs, rev, first)
		first = false
		a.watch(ctx, rev+1)
	}
}

func (a *Arbiter) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := a.cli.Watch(wctx, instancesPrefix(a.cfg.Prefix), clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(rev))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if ctx.Err() == nil {
				a.log.Info("watch broken, re-reading", "err", err)
			}
			return
		}
		a.applyWatch(resp.Events)
	}
}

// resync compares a full read with what we believe.
func (a *Arbiter) resync(kvs []*mvccpb.KeyValue, rev int64, first bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owners := map[string]*mvccpb.KeyValue{}
	released := map[string]int64{}
	targets := map[string]string{}
	clear(a.cands)
	for _, kv := range kvs {
		if name, node, ok := parseCandidate(a.cfg.Prefix, string(kv.Key)); ok {
			a.setCandidateLocked(name, node, parsePrio(kv.Value))
			continue
		}
		name, owner, ok := parseKey(a.cfg.Prefix, string(kv.Key))
		switch {
		case !ok:
		case owner:
			owners[name] = kv
		default:
			released[name], targets[name] = parseReleaseMark(kv.Value)
		}
	}
	if first {
		for name, kv := range owners {
			o := decodeOwner(kv)
			if o.Node == a.cfg.Node && o.Incarnation != a.incarnation {
				a.log.Info("found a key of a previous incarnation; it will not be adopted", "unit", name, "token", kv.CreateRevision, "lease", fmt.Sprintf("%x", kv.Lease))
				a.stale[name] = kv.CreateRevision
				if kv.Lease != 0 {
					a.staleLeases[kv.Lease] = true
				}
			}
		}
		a.clearStaleLocked()
		a.scanned = true
		a.markReadyLocked()
	}
	for name, u := range a.units {
		if u.held && rev < u.token {
			continue // the read predates our claim: it cannot judge it
		}
		kv := owners[name]
		if kv != nil {
			u.known = max(u.known, kv.CreateRevision)
			if u.held && kv.CreateRevision != u.token {
				a.revokeLocked(u, mastership.CauseKeyLost, "key lost: now held by "+decodeOwner(kv).Node)
			}
			continue
		}
		if u.held {
			a.revokeLocked(u, mastership.CauseKeyLost, "key lost: deleted (lease expired or revoked)")
			continue
		}
		if u.interested && !first {
			a.freeLocked(u, "", u.known, released[name] == u.known && u.known != 0, targets[name])
		}
	}
}

func (a *Arbiter) applyWatch(evs []*clientv3.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	released := map[string]int64{}
	targets := map[string]string{}
	for _, ev := range evs {
		if name, node, ok := parseCandidate(a.cfg.Prefix, string(ev.Kv.Key)); ok {
			prio := uint8(0)
			if ev.Type == mvccpb.PUT {
				prio = parsePrio(ev.Kv.Value)
			}
			a.setCandidateLocked(name, node, prio)
			continue
		}
		if name, owner, ok := parseKey(a.cfg.Prefix, string(ev.Kv.Key)); ok && !owner && ev.Type == mvccpb.PUT {
			released[name], targets[name] = parseReleaseMark(ev.Kv.Value)
		}
	}
	for _, ev := range evs {
		name, owner, ok := parseKey(a.cfg.Prefix, string(ev.Kv.Key))
		u := a.units[name]
		if !ok || !owner || u == nil {
			continue
		}
		// Events at or before our claim's revision are history the watch
		// is catching up on, not news about our grant.
		newer := ev.Kv.ModRevision > u.token
		if ev.Type == mvccpb.PUT {
			u.known = max(u.known, ev.Kv.CreateRevision)
			if u.held && newer && ev.Kv.CreateRevision != u.token {
				a.revokeLocked(u, mastership.CauseKeyLost, "key lost: now held by "+decodeOwner(ev.Kv).Node)
			}
			continue
		}
		var tok int64
		var prev Owner
		if ev.PrevKv != nil {
			tok = ev.PrevKv.CreateRevision
			prev = decodeOwner(ev.PrevKv)
		}
		if u.held && newer && (ev.PrevKv == nil || tok == u.token) {
			a.revokeLocked(u, mastership.CauseKeyLost, "key lost: deleted (lease expired or revoked)")
			continue
		}
		// Our own deletions (releases, a previous incarnation's key) free
		// nothing the engine is waiting for.
		if u.interested && prev.Node != a.cfg.Node {
			a.freeLocked(u, prev.Node, tok, tok != 0 && released[name] == tok, targets[name])
		}
	}
}

// freeLocked reports a deleted key as Freed: at once after a clean release
// (the holder removed its VIPs before deleting), else after the grace,
// because a key revoked by someone else may belong to a holder whose VIPs
// are still up until it notices.
func (a *Arbiter) freeLocked(u *unit, holder string, tok int64, clean bool, target string) {
	who := holder
	if who == "" {
		who = "the previous holder"
	}
	if clean || a.cfg.Grace <= 0 {
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Freed, Holder: holder, Clean: clean, Target: target, Order: a.orderLocked(u.name, holder, target),
			Reason: fmt.Sprintf("released by %s (token %d)", who, tok)})
		return
	}
	now := a.clock.Now()
	u.graceUntil = now.Add(a.cfg.Grace)
	if u.stopGrace != nil {
		u.stopGrace()
	}
	reason := fmt.Sprintf("%s's key (token %d) expired or was revoked; grace %s passed", who, tok, a.cfg.Grace)
	u.stopGrace = a.clock.AfterFunc(a.cfg.Grace, func() {
		a.mu.Lock()
		order := a.orderLocked(u.name, holder, "")
		a.mu.Unlock()
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Freed, Holder: holder, Order: order, Reason: reason})
	})
}

// sleepPlain waits d on the arbiter's clock or until ctx is done.
func (a *Arbiter) sleepPlain(ctx context.Context, d time.Duration) {
	done := make(chan struct{})
	stop := a.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
	case <-ctx.Done():
		stop()
	}
}
