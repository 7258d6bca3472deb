package arbiter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vipd/vipd/arbiter/mastership"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/vrrp/vip"
)

// Arbiter grants and revokes mastership of units (instances or sync
// groups). Its methods never block on etcd: Claim and Release queue work
// and the answers arrive on Events; Grant reads a snapshot.
//
// How the VRRP engine uses it (its goroutine never blocks on etcd):
//
//   - at start, remove every VIP, then call Prepare(units);
//   - a machine that wants MASTER reads Grant(name, now): ok, it takes
//     over; otherwise it returns a Claim action, the engine calls
//     Claim(name, prio) (once per attempt) and the instance stays BACKUP
//     ("waiting for the arbiter") — the answer arrives as Granted or Denied;
//   - Granted: take over (install VIPs with Grant(name, now).Lifetime);
//     Denied: stay BACKUP with Event.Reason visible; Freed: re-run the
//     takeover check now (planned handover);
//   - Renewed, and every VIP refresh: refresh with Grant(name, now).Lifetime;
//     if Grant is false, do not refresh (never with lifetime 0);
//   - Revoked: step down at once (remove VIPs, priority-0 advert), then
//     Release(name);
//   - any other step-down: remove VIPs first, then Release(name);
//   - shutdown: step down and Release, then cancel Run.
//
// Concurrency: mu guards every field below it. RPCs are never made with mu
// held. Goroutines: the lease loop (lease.go), the watch loop (watch.go),
// the event pump, and one worker per unit while it has queued operations;
// Run starts them all and waits for them before it returns.
type Arbiter struct {
	cfg         Config
	cli         etcdClient
	st          store
	clock       clock.Clock
	log         *slog.Logger
	incarnation string
	q           *eventQueue
	wake        chan struct{} // kicks the lease loop when the lease dies
	ready       chan struct{} // closed once a lease is granted and the keys were read

	mu          sync.Mutex
	opCtx       context.Context // workers' context; nil until Run
	workers     sync.WaitGroup
	closing     bool
	leaseID     clientv3.LeaseID // 0: none
	dl          *Deadline
	leaseErr    string // why there is no usable lease, or the last keepalive error
	stopTimer   func() bool
	holdUntil   time.Time
	gwOK        bool
	gwReason    string
	units       map[string]*unit
	cands       map[string]map[string]uint8 // candidacies in etcd: unit → node → priority
	stale       map[string]int64            // keys a previous incarnation left: name → token
	staleLeases map[int64]bool
	clearStale  bool
	fencedUntil time.Time // every VIP installed from our grants is gone by then
	granted     bool      // a lease was granted once
	scanned     bool      // the keys were read once
}

// unit is one arbitrated name. token is non-zero while we own (or may
// still own) its key: held is cleared by a revocation before the key is
// cleaned up by Release.
type unit struct {
	name       string
	prio       uint8
	interested bool // Claim was called: report Freed
	held       bool
	token      int64
	lease      clientv3.LeaseID
	gen        uint64 // bumped by Release: a claim in flight is stale
	ops        []op
	busy       bool
	known      int64 // newest token seen in etcd
	holders    []Holder
	graceUntil time.Time
	stopGrace  func() bool
	stand      uint8            // the candidacy the engine wants (0: none)
	stood      uint8            // the candidacy written to etcd
	stoodLease clientv3.LeaseID // under this lease
}

type op struct {
	claim  bool
	stand  bool // bring the candidacy key in line with unit.stand
	gen    uint64
	token  int64  // release: the key's token
	target string // release: the node an operator handover is meant for
}

var _ mastership.Arbiter = (*Arbiter)(nil)

// New returns an arbiter using cli. clk nil means clock.Real(), log nil
// slog.Default(). Call Run to start it. Deadlines are computed from clk's
// Now, which must carry a monotonic reading (see clock.Clock).
func New(cfg Config, cli *clientv3.Client, clk clock.Clock, log *slog.Logger) *Arbiter {
	return newArbiter(cfg, cli, clk, log)
}

func newArbiter(cfg Config, cli etcdClient, clk clock.Clock, log *slog.Logger) *Arbiter {
	cfg = cfg.withDefaults()
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.Default()
	}
	var inc [8]byte
	_, _ = rand.Read(inc[:])
	return &Arbiter{
		cfg:         cfg,
		cli:         cli,
		st:          store{cli: cli, prefix: cfg.Prefix, timeout: cfg.RPCTimeout},
		clock:       clk,
		log:         log.With("component", "arbiter"),
		incarnation: hex.EncodeToString(inc[:]),
		q:           newEventQueue(),
		wake:        make(chan struct{}, 1),
		ready:       make(chan struct{}),
		dl:          NewDeadline(cfg.DriftRate, cfg.Margin),
		leaseErr:    "no etcd lease yet",
		gwOK:        true,
		units:       map[string]*unit{},
		cands:       map[string]map[string]uint8{},
		stale:       map[string]int64{},
		staleLeases: map[int64]bool{},
	}
}

// Events delivers the answers to Claim and the changes to grants. Read it
// continuously: the arbiter queues without bound rather than block or drop
// (see eventQueue), and delivers only while Run runs.
func (a *Arbiter) Events() <-chan mastership.Event { return a.q.out }

// Run keeps a lease and watches the ownership keys until ctx is cancelled.
// It returns nil on cancel, after releasing every key it still owns: keys
// the engine released at once; keys it did not release only once every VIP
// lifetime handed out has run out (so a wrongly ordered shutdown cannot
// leave our VIPs up while a peer claims).
func (a *Arbiter) Run(ctx context.Context) error {
	if err := a.cfg.Validate(); err != nil {
		return err
	}
	opCtx, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOps()
	a.mu.Lock()
	a.opCtx = opCtx
	a.holdUntil = a.clock.Now().Add(a.cfg.StartupHold)
	a.closing = false
	for _, u := range a.units {
		a.startWorker(u)
	}
	a.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { a.q.pump(ctx) })
	wg.Go(func() { a.leaseLoop(ctx) })
	wg.Go(func() { a.watchLoop(ctx) })
	<-ctx.Done()
	wg.Wait()
	a.shutdown(opCtx)
	cancelOps()
	return nil
}

// Claim asks for the unit's key with priority prio; the answer (Granted or
// Denied) arrives on Events. Call it only once the unit's VIPs are known to
// be absent locally (the engine removes them at start).
func (a *Arbiter) Claim(name string, prio uint8) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.unitLocked(name)
	u.interested = true
	u.prio = prio
	if a.opCtx == nil || a.closing {
		a.q.push(mastership.Event{Unit: name, Kind: mastership.Denied, Reason: "arbiter not running"})
		return
	}
	a.enqueue(u, op{claim: true, gen: u.gen})
}

// Release gives the unit up. Call it after the unit's VIPs are removed:
// the key is deleted (with a clean-release marker) and a peer may take the
// VIPs at once. Grant reports false from the call on. target names the
// node an operator handover is meant for ("" for anyone): the others see
// it in Freed and give it a head start.
func (a *Arbiter) Release(name, target string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.unitLocked(name)
	u.gen++
	u.held = false
	if u.token == 0 || a.opCtx == nil || a.closing {
		return // while closing, shutdown releases what still has a token
	}
	tok := u.token
	u.token = 0
	a.enqueue(u, op{token: tok, target: target})
}

// Grant reports whether the unit holds a valid grant at now, and the VIP
// lifetime to use now. It is false from the lease deadline on, even if the
// Revoked event was not read yet; false too while the remaining budget is
// too short for a kernel lifetime (the VIPs installed earlier then expire
// on their own before the deadline; a Renewed or Revoked follows).
func (a *Arbiter) Grant(name string, now time.Time) (mastership.Grant, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.units[name]
	if u == nil {
		return mastership.Grant{}, false
	}
	return a.grantLocked(u, now)
}

func (a *Arbiter) grantLocked(u *unit, now time.Time) (mastership.Grant, bool) {
	if !u.held || u.lease != a.leaseID {
		return mastership.Grant{}, false
	}
	life, ok := a.dl.VIPLifetime(now)
	if !ok {
		return mastership.Grant{}, false
	}
	if t := now.Add(life + vip.ExpiryLateness); t.After(a.fencedUntil) {
		a.fencedUntil = t
	}
	return mastership.Grant{Token: u.token, ValidUntil: a.dl.Until(), Lifetime: life}, true
}

// SetGateway records the gateway prober's verdict. Until it is first
// called the gateway counts as healthy (no gateway configured).
func (a *Arbiter) SetGateway(ok bool, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gwOK, a.gwReason = ok, reason
}

// SetView records what gossip says about a unit. If it shows another live
// member holding a unit we hold with a newer token, our grant is revoked
// at once (etcd has moved on without us noticing yet).
func (a *Arbiter) SetView(name string, holders []Holder) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.unitLocked(name)
	u.holders = append([]Holder(nil), holders...)
	if !u.held {
		return
	}
	if h, ok := Conflict(a.cfg.Node, u.token, holders); ok {
		a.revokeLocked(u, mastership.CauseConflict, fmt.Sprintf("conflict: gossip shows %s holding it with newer token %d (ours %d)", h.Node, h.Token, u.token))
	}
}

// Prepare deletes the keys a previous incarnation of this node left
// (after kill -9, a crash or a reboot) and revokes its leases, instead of
// waiting for them to expire, and makes the units' key deletions reported
// as Freed from now on, as after a Claim: a backup that never had to claim
// learns at once that the holder released (planned handover) instead of
// waiting for VRRP timers. Call it once the engine has removed every VIP
// at start: only then is nothing of the old grants left in the kernel.
// Without it, a stale key is still cleaned up when this node claims it.
func (a *Arbiter) Prepare(units []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, name := range units {
		a.unitLocked(name).interested = true
	}
	a.clearStale = true
	a.clearStaleLocked()
}

func (a *Arbiter) clearStaleLocked() {
	if !a.clearStale || a.opCtx == nil || a.closing {
		return
	}
	for name, tok := range a.stale {
		a.enqueue(a.unitLocked(name), op{token: tok})
		delete(a.stale, name)
	}
	for id := range a.staleLeases {
		delete(a.staleLeases, id)
		a.workers.Go(func() {
			ctx, cancel := context.WithTimeout(a.opCtx, a.cfg.RPCTimeout)
			defer cancel()
			if _, err := a.cli.Revoke(ctx, clientv3.LeaseID(id)); err != nil {
				a.log.Info("revoke stale lease", "lease", fmt.Sprintf("%x", id), "err", err)
			}
		})
	}
}

func (a *Arbiter) unitLocked(name string) *unit {
	u := a.units[name]
	if u == nil {
		u = &unit{name: name}
		a.units[name] = u
	}
	return u
}

func (a *Arbiter) enqueue(u *unit, o op) {
	u.ops = append(u.ops, o)
	a.startWorker(u)
}

func (a *Arbiter) startWorker(u *unit) {
	if u.busy || len(u.ops) == 0 || a.opCtx == nil || a.closing {
		return
	}
	u.busy = true
	ctx := a.opCtx
	a.workers.Go(func() { a.work(ctx, u) })
}

// work runs the unit's queued operations one at a time, so a claim and
// the release that follows it reach etcd in order.
func (a *Arbiter) work(ctx context.Context, u *unit) {
	for {
		a.mu.Lock()
		if len(u.ops) == 0 {
			u.busy = false
			a.mu.Unlock()
			return
		}
		o := u.ops[0]
		u.ops = u.ops[1:]
		a.mu.Unlock()
		if o.stand {
			a.doStand(ctx, u)
		} else if o.claim {
			a.doClaim(ctx, u, o)
		} else if err := a.st.release(ctx, u.name, o.token, o.target); err != nil {
			a.log.Warn("release failed; the key expires with its lease", "unit", u.name, "token", o.token, "err", err)
		} else {
			a.log.Info("released", "unit", u.name, "token", o.token)
		}
	}
}

// inputsLocked gathers Decide's inputs for u.
func (a *Arbiter) inputsLocked(u *unit, now time.Time) Inputs {
	in := Inputs{
		Now: now, Node: a.cfg.Node,
		EtcdOK:    a.leaseID != 0 && !a.dl.Expired(now) && a.leaseErr == "",
		GatewayOK: a.gwOK, GatewayReason: a.gwReason,
		Holders: u.holders, KnownToken: u.known,
		HoldUntil: a.holdUntil, GraceUntil: u.graceUntil,
	}
	if !in.EtcdOK {
		in.EtcdReason = a.leaseErr
		if in.EtcdReason == "" {
			in.EtcdReason = "no valid etcd lease"
		}
	}
	in.Lifetime, in.LifetimeOK = a.dl.VIPLifetime(now)
	return in
}

func (a *Arbiter) doClaim(ctx context.Context, u *unit, o op) {
	a.mu.Lock()
	now := a.clock.Now()
	if a.closing {
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Denied, Reason: "arbiter stopping"})
		a.mu.Unlock()
		return
	}
	if g, ok := a.grantLocked(u, now); ok {
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Granted, Grant: g, Reason: "already held"})
		a.mu.Unlock()
		return
	}
	if v := Decide(a.inputsLocked(u, now)); !v.Allow {
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Denied, Reason: v.Reason})
		a.mu.Unlock()
		return
	}
	lease := a.leaseID
	owner := Owner{Node: a.cfg.Node, Priority: u.prio, Lease: int64(lease), Incarnation: a.incarnation, Time: time.Now()}
	a.mu.Unlock()

	out, err := a.st.claim(ctx, u.name, lease, owner)
	if err == nil && !out.granted && out.holder.Node == a.cfg.Node && out.holder.Lease != int64(lease) {
		// Our own key under a lease that is not the current one: a
		// previous incarnation's (never adopted), or this process's lease
		// that died. Its VIPs are gone (removed at start, or fenced by the
		// old deadline), so deleting it cleanly is safe.
		a.log.Info("removing stale key of ours", "unit", u.name, "token", out.token, "lease", fmt.Sprintf("%x", out.holder.Lease), "incarnation", out.holder.Incarnation)
		if err = a.st.release(ctx, u.name, out.token, ""); err == nil {
			out, err = a.st.claim(ctx, u.name, lease, owner)
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	now = a.clock.Now()
	delete(a.stale, u.name)
	switch {
	case err != nil:
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Denied, Reason: "etcd: " + err.Error()})
		return
	case !out.granted:
		u.known = max(u.known, out.token)
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Denied, Holder: out.holder.Node, Grant: mastership.Grant{Token: out.token},
			Reason: fmt.Sprintf("held by %s, token %d", out.holder.Node, out.token)})
		return
	}
	u.known = max(u.known, out.token)
	if lease != a.leaseID || a.dl.Expired(now) {
		// The lease died while the transaction ran: the key is void and
		// goes with the lease.
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Denied, Reason: "lease lost during the claim"})
		return
	}
	u.held, u.token, u.lease = true, out.token, lease
	if o.gen != u.gen || a.closing {
		// Released (or stopping) while the claim ran: nobody installed
		// anything, so give it back at once.
		u.held, u.token = false, 0
		u.ops = append([]op{{token: out.token}}, u.ops...)
		return
	}
	g, ok := a.grantLocked(u, now)
	if !ok {
		u.held, u.token = false, 0
		u.ops = append([]op{{token: out.token}}, u.ops...)
		a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Denied, Reason: "lease budget too short to fence VIPs in the kernel"})
		return
	}
	a.log.Info("granted", "unit", u.name, "token", out.token, "valid_until_in", g.ValidUntil.Sub(now).Round(time.Millisecond))
	a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Granted, Grant: g})
}

// revokeLocked ends a grant we held and tells the engine. The token stays
// so that the engine's Release still deletes the key if it is ours.
func (a *Arbiter) revokeLocked(u *unit, cause mastership.Cause, reason string) {
	if !u.held {
		return
	}
	u.held = false
	a.log.Warn("grant revoked", "unit", u.name, "token", u.token, "reason", reason)
	a.q.push(mastership.Event{Unit: u.name, Kind: mastership.Revoked, Grant: mastership.Grant{Token: u.token}, Reason: reason, Cause: cause})
}

// shutdown waits for in-flight operations and releases what is left.
func (a *Arbiter) shutdown(ctx context.Context) {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
	a.workers.Wait()

	a.mu.Lock()
	var left []*unit
	unreleased := false
	for _, u := range a.units {
		if u.token != 0 {
			left = append(left, u)
			unreleased = unreleased || u.held
		}
	}
	wait := a.fencedUntil.Sub(a.clock.Now())
	id := a.leaseID
	a.mu.Unlock()

	if unreleased && wait > 0 {
		// The engine did not release: its VIPs may still be up. Keys are
		// deleted only once every lifetime we handed out has run out.
		a.log.Warn("stopping with grants the engine did not release; waiting for their VIP lifetimes", "wait", wait.Round(time.Millisecond))
		done := make(chan struct{})
		stop := a.clock.AfterFunc(wait, func() { close(done) })
		select {
		case <-done:
		case <-ctx.Done():
			stop()
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*a.cfg.RPCTimeout)
	defer cancel()
	for _, u := range left {
		a.mu.Lock()
		tok := u.token
		u.held, u.token = false, 0
		a.mu.Unlock()
		if err := a.st.release(rctx, u.name, tok, ""); err != nil {
			a.log.Warn("release at exit failed; the key expires with the lease", "unit", u.name, "err", err)
		}
	}
	if id != 0 {
		if _, err := a.cli.Revoke(rctx, id); err != nil {
			a.log.Info("revoke lease at exit", "err", err)
		}
	}
	a.mu.Lock()
	a.loseLeaseLocked("arbiter stopped", false)
	a.opCtx = nil
	a.mu.Unlock()
}

// markReadyLocked closes ready once both the first lease and the first
// read of the keys are done.
func (a *Arbiter) markReadyLocked() {
	if a.granted && a.scanned {
		select {
		case <-a.ready:
		default:
			close(a.ready)
		}
	}
}
