package arbiter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/arbiter/mastership"
)

// The lease loop: one lease per process, always freshly granted (a
// previous incarnation's lease is never adopted), renewed by KeepAliveOnce
// calls whose SEND time moves the local deadline (deadline.go). The
// client's streamed KeepAlive and concurrency.Session are not used: they set
// their deadline on receipt and check it once a second.
//
// The loop goroutine owns the calls to etcd; every state change happens
// under a.mu. The deadline itself is enforced by a clock timer at D
// (onDeadline), not by the loop, so a hung RPC cannot delay a revocation.

// leaseLoop grants a lease, keeps it alive until it dies, and starts over,
// until ctx is done.
func (a *Arbiter) leaseLoop(ctx context.Context) {
	backoff := a.cfg.KeepAliveEvery
	for ctx.Err() == nil {
		id, err := a.grantLease(ctx)
		if err != nil {
			a.mu.Lock()
			a.leaseErr = "etcd unreachable: " + err.Error()
			a.mu.Unlock()
			a.log.Warn("lease grant failed", "err", err, "retry_in", backoff)
			a.sleep(ctx, backoff)
			backoff = min(2*backoff, a.cfg.LeaseTTL)
			continue
		}
		backoff = a.cfg.KeepAliveEvery
		a.keepAlive(ctx, id)
	}
}

func (a *Arbiter) grantLease(ctx context.Context) (clientv3.LeaseID, error) {
	rctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), a.cfg.RPCTimeout)
	defer cancel()
	sent := a.clock.Now()
	resp, err := a.cli.Grant(rctx, int64(a.cfg.LeaseTTL/time.Second))
	if err != nil {
		return 0, fmt.Errorf("grant lease: %w", err)
	}
	now := a.clock.Now()
	ttl := time.Duration(resp.TTL) * time.Second
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.dl.Start(sent, now, ttl) {
		go a.revokeLease(resp.ID)
		return 0, fmt.Errorf("lease %x granted with TTL %s was already past its local deadline after %s", resp.ID, ttl, now.Sub(sent))
	}
	a.leaseID = resp.ID
	a.leaseErr = ""
	a.granted = true
	a.restandLocked()
	a.markReadyLocked()
	a.armDeadlineLocked(now)
	a.log.Info("lease granted", "lease", fmt.Sprintf("%x", resp.ID), "ttl", ttl, "valid_for", a.dl.Until().Sub(now).Round(time.Millisecond))
	return resp.ID, nil
}

// keepAlive renews lease id every KeepAliveEvery until it is dead or ctx
// is done. One KeepAliveOnce is outstanding at a time; the next is sent a
// period after the previous answer (or timeout).
func (a *Arbiter) keepAlive(ctx context.Context, id clientv3.LeaseID) {
	for {
		// A false sleep is either ctx (return) or a wake-up left over from
		// the previous lease's death (harmless: renew early).
		if !a.sleep(ctx, a.cfg.KeepAliveEvery) && ctx.Err() != nil {
			return
		}
		a.mu.Lock()
		sent := a.clock.Now()
		alive := a.leaseID == id && !a.dl.Expired(sent)
		a.mu.Unlock()
		if !alive {
			// Past the deadline: never renew again (an arriving renewal
			// would keep a lease alive that we no longer act on).
			return
		}
		rctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), a.cfg.RPCTimeout)
		resp, err := a.cli.KeepAliveOnce(rctx, id)
		cancel()
		now := a.clock.Now()

		a.mu.Lock()
		if a.leaseID != id {
			a.mu.Unlock()
			return
		}
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound) || (err == nil && resp.TTL <= 0):
			a.loseLeaseLocked("lease not found", false)
		case err != nil:
			if ctx.Err() == nil {
				a.leaseErr = "etcd unreachable: " + err.Error()
				a.log.Warn("keepalive failed", "err", err, "rpc", now.Sub(sent).Round(time.Millisecond), "lease_left", a.dl.Remaining(now).Round(time.Millisecond))
			}
		default:
			moved, alive := a.dl.Renew(sent, now, time.Duration(resp.TTL)*time.Second)
			if !alive {
				a.loseLeaseLocked(a.deadlineReasonLocked(), true)
				break
			}
			a.leaseErr = ""
			if moved {
				a.armDeadlineLocked(now)
				a.renewedLocked(now)
			}
		}
		dead := a.leaseID != id
		a.mu.Unlock()
		if dead {
			return
		}
	}
}

// renewedLocked tells the engine about the new deadline of every grant.
func (a *Arbiter) renewedLocked(now time.Time) {
	for _, u := range a.units {
		if g, ok := a.grantLocked(u, now); ok {
			a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Renewed, Grant: g})
		}
	}
}

// armDeadlineLocked (re)sets the timer that revokes everything at D.
func (a *Arbiter) armDeadlineLocked(now time.Time) {
	if a.stopTimer != nil {
		a.stopTimer()
	}
	id := a.leaseID
	a.stopTimer = a.clock.AfterFunc(a.dl.Until().Sub(now), func() { a.onDeadline(id) })
}

func (a *Arbiter) onDeadline(id clientv3.LeaseID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.leaseID != id || id == 0 {
		return
	}
	now := a.clock.Now()
	if !a.dl.Expired(now) {
		a.armDeadlineLocked(now) // a timer that fired early
		return
	}
	a.loseLeaseLocked(a.deadlineReasonLocked(), true)
}

func (a *Arbiter) deadlineReasonLocked() string {
	if a.leaseErr != "" {
		return a.leaseErr + " (lease deadline passed)"
	}
	return "lease deadline passed"
}

// loseLeaseLocked declares the current lease dead: every grant under it is
// revoked, the lease loop is woken to grant a new one, and the old lease
// is revoked in etcd once the margin after D has passed (our VIPs are gone
// by D; revoking also ends a lease that our late keepalives might still be
// extending when only our replies are lost). revoke is false when the
// lease is known gone (etcd said so) or the arbiter is stopping (shutdown
// revokes it itself).
func (a *Arbiter) loseLeaseLocked(reason string, revoke bool) {
	id := a.leaseID
	if id == 0 {
		return
	}
	now := a.clock.Now()
	a.dl.Lose()
	a.leaseID = 0
	a.leaseErr = reason
	if a.stopTimer != nil {
		a.stopTimer()
		a.stopTimer = nil
	}
	for _, u := range a.units {
		if u.held && u.lease == id {
			a.revokeLocked(u, mastership.CauseLease, reason)
		}
	}
	a.log.Warn("lease lost", "lease", fmt.Sprintf("%x", id), "reason", reason)
	if revoke {
		wait := max(a.dl.Until().Add(a.cfg.Margin).Sub(now), 0)
		a.clock.AfterFunc(wait, func() { a.revokeLease(id) })
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// revokeLease ends a lease in etcd, best effort.
func (a *Arbiter) revokeLease(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.RPCTimeout)
	defer cancel()
	if _, err := a.cli.Revoke(ctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		a.log.Debug("revoke old lease", "lease", fmt.Sprintf("%x", id), "err", err)
	}
}

// sleep waits d on the arbiter's clock. It returns false when ctx is done
// or the lease died meanwhile (the loop must re-grant at once).
func (a *Arbiter) sleep(ctx context.Context, d time.Duration) bool {
	done := make(chan struct{})
	stop := a.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return true
	case <-ctx.Done():
	case <-a.wake:
	}
	stop()
	return false
}
