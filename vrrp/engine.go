package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vipd/vipd/arbiter/mastership"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/track"
	"github.com/vipd/vipd/vrrp/vrrpconn"
)

// Options are the engine's collaborators. Every field is required except
// Log (defaults to slog.Default()) and those documented as optional. Time
// is the time package's: tests run the engine in a testing/synctest bubble.
type Options struct {
	Log           *slog.Logger
	OpenConn      ConnOpener
	OpenAnnouncer AnnouncerOpener
	Addrs         AddrManager
	VMACs         VMACManager // nil: use_vmac is refused
	// OpenFirewall, when set, enforces no_accept (keepalived's accept
	// mode); nil leaves it unenforced, with a warning.
	OpenFirewall FirewallOpener
	// Sysctl sets an interface's IPv4 setting (promote_secondaries) and
	// returns the value it had; nil: /proc/sys/net/ipv4/conf.
	Sysctl func(ifname, key, value string) (old string, err error)
	// Routes installs virtual_routes/virtual_rules and the static ones;
	// nil: configurations that have them are refused at Run.
	Routes   RouteManager
	Notifier Notifier
	Trackers Trackers
	// Arbiter gates mastership; nil runs plain VRRP (as keepalived).
	Arbiter mastership.Arbiter
	// Node is this node's name, given to notify scripts as VIPD_NODE.
	Node string
	// HeadStart is how long each candidate for a freed key gives the ones
	// before it (0: DefaultHeadStart).
	HeadStart time.Duration
	// ProbeVIP, when set, checks that no host answers for a gated
	// instance's VIPs before it claims after an unclean loss.
	ProbeVIP VIPProber
}

// Engine runs every VRRP instance of a configuration. One goroutine — the
// one in Run — owns all protocol state (as keepalived's single thread does):
// received adverts, tracker results, probe results and control requests
// reach it over channels, so there are no locks around instances. Every
// other goroutine the engine starts (socket readers, trackers, probes) is
// started with spawn, and Run returns only after all of them have.
type Engine struct {
	opt   Options
	log   *slog.Logger
	cfg   *config.Config
	insts []*instance
	byKey map[string]*instance // by name
	links map[linkKey]*link
	trk   map[trackKey]track.Status
	drops *DropCounter // adverts that reach no instance

	rx       chan rxAdvert
	trkCh    chan track.Status
	reqs     chan func(now time.Time)
	probes   chan probeResult
	released chan releaseResult

	// candDirty: some instance's candidacy may have changed (gate.go).
	candDirty bool
	// starting are instances built but not started yet: they wait until
	// the interfaces they track have reported, or until startBy.
	starting []*instance
	startBy  time.Time

	tasks sync.WaitGroup // every goroutine spawn started

	// holdUntil is the end of vrrp_startup_delay: no instance, started at
	// run or by a reload meanwhile, becomes master before it.
	holdUntil time.Time

	// fw is accept mode's drop set, opened when first needed (fwFailed:
	// it could not be, warned once).
	fw       Firewall
	fwFailed bool

	// sysctls are the interface settings changed at start, with their old
	// values, restored at exit.
	sysctls map[string]string

	runCtx       context.Context // Run's context: links opened on reload live as long
	stopTrackers context.CancelFunc
	groups       []*group
}

type trackKey struct{ kind, name string }

// link is the packet conn (and announcer) shared by the instances on one
// interface, family and source address.
type link struct {
	key   linkKey
	vmac  bool // key.ifname is a VMAC this engine created: deleted on close
	conn  PacketConn
	ann   Announcer
	group netip.Addr
	insts []*instance
	// paced gratuitous ARPs/NAs wait here, sent one interval apart from
	// nextAnnounce on (garp_interval, gna_interval).
	paced        []pacedAnnounce
	nextAnnounce time.Time
}

type linkKey struct {
	ifname  string
	family  int
	src     netip.Addr
	unicast bool
	group   netip.Addr // the multicast group (mcast_dst_ip)
}

type rxAdvert struct {
	link *link
	adv  *Advert
	meta vrrpconn.Meta
	err  error
}

// NewEngine validates that cfg can run and returns an engine for it; Run
// opens sockets and starts the instances.
func NewEngine(cfg *config.Config, opt Options) *Engine {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.HeadStart <= 0 {
		opt.HeadStart = DefaultHeadStart
	}
	return &Engine{
		opt:    opt,
		log:    opt.Log,
		cfg:    cfg,
		byKey:  map[string]*instance{},
		links:  map[linkKey]*link{},
		trk:    map[trackKey]track.Status{},
		drops:  NewDropCounter(opt.Log, 10*time.Second),
		rx:     make(chan rxAdvert, 256),
		trkCh:  make(chan track.Status, 64),
		reqs:   make(chan func(time.Time)),
		probes: make(chan probeResult),

		released: make(chan releaseResult),
	}
}

// Run starts every instance and runs the protocol until ctx is cancelled,
// then steps down gracefully: priority-0 adverts, VIPs removed, STOP
// notifies. It returns once every goroutine it started has returned.
func (e *Engine) Run(ctx context.Context) error {
	defer e.tasks.Wait()
	now := time.Now()
	e.runCtx = ctx
	if err := e.canRoute(e.cfg); err != nil {
		return err
	}
	if err := e.build(ctx, e.cfg, now); err != nil {
		e.closeLinks()
		return err
	}
	if d := e.cfg.Global.VRRPStartupDelay; d > 0 {
		e.holdUntil = now.Add(d)
		e.log.Info("delaying startup: no instance becomes master before the delay ends", "vrrp_startup_delay", d)
	}
	e.initTrackFiles()
	e.promoteSecondaries()
	e.applyStatic(nil, e.cfg)
	e.restartTrackers(e.cfg)
	e.startWhenLinked(now, e.insts)

	var arbEvents <-chan mastership.Event
	if e.opt.Arbiter != nil {
		arbEvents = e.opt.Arbiter.Events()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.flushReleases()
		now = time.Now()
		e.flushCandidacies(now)
		e.tick(now)
		wait := time.Hour
		if d := e.nextDeadline(); !d.IsZero() {
			wait = max(d.Sub(now), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			e.shutdown(time.Now())
			return nil
		case r := <-e.rx:
			e.receive(time.Now(), r)
		case s := <-e.trkCh:
			now := time.Now()
			e.trackerChanged(now, s)
			e.startLinked(now, false)
		case f := <-e.reqs:
			f(time.Now())
		case ev := <-arbEvents:
			e.arbiterEvent(time.Now(), ev)
		case r := <-e.probes:
			e.probeDone(time.Now(), r)
		case r := <-e.released:
			e.releaseDone(time.Now(), r)
		case <-timer.C:
		}
	}
}

// linkStateWait bounds how long a starting instance waits for the state of
// the interfaces it tracks; the interface tracker reports within
// milliseconds, and without this wait every instance would pass through
// FAULT ("waiting for first result") at start and fire notify_fault.
const linkStateWait = time.Second

// startWhenLinked queues instances to start once every interface they
// track has reported (or linkStateWait has passed), without blocking the
// engine goroutine: the others keep advertising meanwhile.
func (e *Engine) startWhenLinked(now time.Time, insts []*instance) {
	if len(insts) == 0 {
		return
	}
	e.starting = append(e.starting, insts...)
	e.startBy = now.Add(linkStateWait)
	e.startLinked(now, false)
}

// startLinked starts the queued instances when their link states are
// known, or when force (the wait is over). Trackers are applied before the
// machines start, so an instance whose weight-0 script has not reported
// yet stays out of MASTER (keepalived's num_script_init).
func (e *Engine) startLinked(now time.Time, force bool) {
	if len(e.starting) == 0 || (!force && e.linkStatesMissing(e.starting)) {
		return
	}
	insts := e.starting
	e.starting, e.startBy = nil, time.Time{}
	for _, in := range insts {
		e.retrack(now, in)
	}
	e.start(now, insts)
}

// linkStatesMissing reports whether an interface tracked by insts has not
// reported yet.
func (e *Engine) linkStatesMissing(insts []*instance) bool {
	for _, in := range insts {
		for _, t := range in.trackers {
			if t.Kind == track.KindInterface && !e.trk[trackKey{t.Kind, t.Name}].Known {
				return true
			}
		}
	}
	return false
}

// restartTrackers (re)starts the trackers of cfg. Results already known
// are kept, so an unchanged tracker does not glitch a priority.
func (e *Engine) restartTrackers(cfg *config.Config) {
	if e.stopTrackers != nil {
		e.stopTrackers()
	}
	ctx, stop := context.WithCancel(e.runCtx)
	e.stopTrackers = stop
	e.spawn(func() { e.opt.Trackers(ctx, cfg, e.trkCh) })
}

// spawn runs f on a goroutine that Run waits for before it returns. f must
// return once Run's context is done (or its socket is closed).
func (e *Engine) spawn(f func()) { e.tasks.Go(f) }

// do runs f on the engine goroutine and waits for it.
func (e *Engine) do(ctx context.Context, f func(now time.Time)) error {
	done := make(chan struct{})
	select {
	case e.reqs <- func(now time.Time) { f(now); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// Status returns every instance's status, in configuration order.
func (e *Engine) Status(ctx context.Context) ([]control.InstanceStatus, error) {
	var out []control.InstanceStatus
	err := e.do(ctx, func(now time.Time) {
		for _, in := range e.insts {
			st := in.status(e.trk)
			st.Arbiter = e.gateStatus(in, now)
			out = append(out, st)
		}
	})
	return out, err
}

// build creates the instances of cfg, opening links as needed, and removes
// any configured VIP already on the interfaces: a previous incarnation's
// addresses must not survive into this one (keepalived does the same).
func (e *Engine) build(ctx context.Context, cfg *config.Config, now time.Time) error {
	for _, c := range cfg.Instances {
		l, err := e.linkFor(ctx, c)
		if err != nil {
			return fmt.Errorf("instance %s: %w", c.Name, err)
		}
		in := newInstance(c, &cfg.Global, l, e.log, NewDropCounter(e.log.With("instance", c.Name), 10*time.Second))
		l.insts = append(l.insts, in)
		e.insts = append(e.insts, in)
		e.byKey[c.Name] = in
		if err := e.opt.Addrs.Remove(in.vips); err != nil {
			e.log.Warn("remove stale VIPs", "instance", c.Name, "err", err)
		}
		e.deleteVirtualRoutes(in, c.VirtualRoutes, c.VirtualRules) // a previous incarnation's too
	}
	e.buildGroups(cfg)
	// Only now that no VIP of a previous incarnation is left in the kernel
	// may its ownership keys go (safety: never adopt, never overlap).
	e.prepareArbiter()
	return nil
}

// buildGroups builds the sync groups whose members are not running yet
// (all of them at start; on reload, groups whose membership changed).
func (e *Engine) buildGroups(cfg *config.Config) {
	var groups []*group
	for _, gc := range cfg.SyncGroups {
		if old := e.groupOf(gc.Name); old != nil {
			old.cfg = gc
			groups = append(groups, old)
			continue
		}
		if g := e.newGroup(gc); g != nil {
			groups = append(groups, g)
		}
	}
	e.groups = groups
	for _, in := range e.insts {
		in.gate.unit = unitOf(in)
		in.grantFn = e.granted
	}
}

func (e *Engine) groupOf(name string) *group {
	for _, g := range e.groups {
		if g.cfg.Name == name && len(g.members) > 0 && e.byKey[g.members[0].cfg.Name] == g.members[0] {
			return g
		}
	}
	return nil
}

// start starts instances: a sync group starts as a whole when its first
// member comes up.
func (e *Engine) start(now time.Time, insts []*instance) {
	started := map[*group]bool{}
	for _, in := range insts {
		in.m.HoldMastership(e.holdUntil)
	}
	for _, in := range insts {
		switch {
		case in.group == nil:
			e.apply(now, in, in.m.Start(now))
		case !started[in.group]:
			started[in.group] = true
			e.applyGroup(now, in.group, in.group.sg.Start(now))
		}
	}
}

func (e *Engine) linkFor(ctx context.Context, c *config.Instance) (*link, error) {
	key := linkKey{ifname: c.Interface, family: c.Family, unicast: len(c.UnicastPeers) > 0, group: e.groupAddr(c.Family)}
	if c.MCastDstIP.IsValid() {
		key.group = c.MCastDstIP // keepalived's per-instance multicast group
	}
	if key.unicast {
		key.src = c.UnicastSrcIP
	} else {
		key.src = c.MCastSrcIP
	}
	vmac := c.UseVMAC && e.opt.VMACs != nil && c.Family == 4
	if c.UseVMAC && !vmac {
		e.log.Warn("use_vmac is supported for IPv4 instances only; running on the interface itself", "instance", c.Name)
	}
	if vmac {
		name := c.VMACName
		if name == "" {
			name = fmt.Sprintf("vrrp.%d", c.VRID)
		}
		key.ifname = name
	}
	if l := e.links[key]; l != nil {
		return l, nil
	}
	if vmac {
		name, err := e.opt.VMACs.CreateVMAC(c.Interface, uint8(c.VRID), c.Family, key.ifname)
		if err != nil {
			return nil, fmt.Errorf("use_vmac: %w", err)
		}
		key.ifname = name
	}
	sockIf := key.ifname
	if vmac && c.VMACXmitBase {
		sockIf = c.Interface // vmac_xmit_base: adverts go and come on the base interface (keepalived)
	}
	conn, err := e.opt.OpenConn(vrrpconn.Config{Interface: sockIf, SourceInterface: c.Interface, Family: c.Family,
		SrcAddr: key.src, Unicast: key.unicast, Group: key.group})
	if err != nil {
		if vmac {
			e.opt.VMACs.DeleteVMAC(key.ifname)
		}
		return nil, fmt.Errorf("open VRRP socket on %s: %w", key.ifname, err)
	}
	l := &link{key: key, vmac: vmac, conn: conn, group: key.group}
	if ann, err := e.opt.OpenAnnouncer(key.ifname); err != nil {
		e.log.Warn("gratuitous ARP/NA unavailable", "interface", c.Interface, "err", err)
	} else {
		l.ann = ann
	}
	e.links[key] = l
	e.spawn(func() { e.readLoop(ctx, l) })
	return l, nil
}

// groupAddr is the VRRP multicast group: vrrp_mcast_group4/6 or the RFC's.
func (e *Engine) groupAddr(family int) netip.Addr {
	if family == 6 {
		if g := e.cfg.Global.VRRPMcastGroup6; g.IsValid() {
			return g
		}
		return GroupIPv6
	}
	if g := e.cfg.Global.VRRPMcastGroup4; g.IsValid() {
		return g
	}
	return GroupIPv4
}

// readLoop parses adverts from one link and hands them to the engine. It
// ends when the conn is closed.
func (e *Engine) readLoop(ctx context.Context, l *link) {
	buf := make([]byte, 9000)
	for {
		n, meta, err := l.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			e.log.Warn("read VRRP socket", "interface", l.key.ifname, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond): // a persistent error must not spin
			}
			continue
		}
		adv, perr := ParseAdvert(buf[:n], meta.Src, meta.Dst)
		select {
		case e.rx <- rxAdvert{link: l, adv: adv, meta: meta, err: perr}:
		case <-ctx.Done():
			return
		}
	}
}

// receive hands a parsed advert to the instance it is for, after RFC 5798
// §7.1 validation; rejected adverts are counted by reason.
func (e *Engine) receive(now time.Time, r rxAdvert) {
	rx := RxMeta{Src: r.meta.Src, Dst: r.meta.Dst, TTL: r.meta.TTL, IfIndex: r.meta.IfIndex, Unicast: !r.meta.Dst.IsMulticast()}
	var de *DropError
	if r.err != nil {
		if errors.As(r.err, &de) {
			e.drops.Drop(de, rx)
		}
		return
	}
	for _, in := range r.link.insts {
		if uint8(in.cfg.VRID) != r.adv.VRID {
			continue
		}
		exp := in.expect
		// skip_check_adv_addr: the known master's address list was checked
		// with its first advert.
		exp.SkipAddrs = in.cfg.SkipCheckAdvAddr && plain(r.meta.Src) == plain(in.m.MasterAddr())
		if err := Validate(r.adv, rx, exp); err != nil {
			if errors.As(err, &de) {
				if de.Reason == DropNotPeer && len(r.link.insts) > 1 {
					continue // another instance with this VRID may have this peer
				}
				in.drops.Drop(de, rx)
			}
			return
		}
		if m := Mismatch(r.adv, exp); m != nil {
			in.drops.Warn(m, rx) // keepalived ≥ 2.3.3 logs these and accepts (RFC 9568)
		}
		in.stats.AdvertsReceived++
		if r.adv.Priority > 0 {
			in.noteAdvert(now)
		}
		if in.gate.zombie != "" {
			e.candDirty = true // a live master's advert may clear the alarm
		}
		info := AdvertInfo{Priority: r.adv.Priority, Src: r.meta.Src, Interval: r.adv.Interval()}
		e.drive(now, in,
			func(m *Machine) []Action { return m.ReceiveAdvert(now, info) },
			func(g *SyncGroup, i int) []GroupAction { return g.ReceiveAdvert(now, i, info) })
		return
	}
	// Other VRIDs on the LAN are normal; keepalived ignores them too.
}

// trackerChanged records a tracker result and recomputes the effective
// priority (and fault) of every instance that tracks it.
func (e *Engine) trackerChanged(now time.Time, s track.Status) {
	if !e.noteTracker(s) {
		return
	}
	for _, in := range e.insts {
		if slices.Contains(e.starting, in) {
			continue // applied when it starts
		}
		for _, t := range in.trackers {
			if t.Kind == s.Kind && t.Name == s.Name {
				e.retrack(now, in)
				break
			}
		}
	}
}

// noteTracker records a tracker result and logs it when it changed (the
// first result counts as a change); it reports whether it did.
func (e *Engine) noteTracker(s track.Status) bool {
	k := trackKey{s.Kind, s.Name}
	old, seen := e.trk[k]
	e.trk[k] = s
	if seen && old.Known == s.Known && old.OK == s.OK && old.Value == s.Value {
		return false
	}
	e.log.Info("tracker changed", "kind", s.Kind, "name", s.Name, "ok", s.OK, "value", s.Value, "detail", s.Detail)
	return true
}

// retrack applies the trackers' verdict to one instance.
func (e *Engine) retrack(now time.Time, in *instance) {
	st := make(map[string]track.Status, len(in.trackers))
	for _, t := range in.trackers {
		if s, ok := e.trk[trackKey{t.Kind, t.Name}]; ok {
			st[t.Name] = s
		}
	}
	prio, fault, reason := track.Effective(uint8(in.cfg.Priority), in.trackers, st)
	if in.cfg.ConfigFault != "" {
		fault, reason = true, in.cfg.ConfigFault
	}
	if !fault && in.fault {
		reason = "trackers recovered (" + in.faultReason + ")"
	}
	if fault != in.fault || (fault && reason != in.faultReason) {
		in.fault, in.faultReason = fault, reason
		e.drive(now, in,
			func(m *Machine) []Action { return m.SetFault(now, fault, reason) },
			func(g *SyncGroup, i int) []GroupAction { return g.SetFault(now, i, fault, reason) })
	}
	if prio != in.prio {
		in.prio = prio
		e.candDirty = true
		in.log.Info("effective priority changed", "priority", prio, "base", in.cfg.Priority, "reason", reason)
		e.drive(now, in,
			func(m *Machine) []Action { return m.SetPriority(now, prio) },
			func(g *SyncGroup, i int) []GroupAction { return g.SetPriority(now, i, prio) })
	}
}

// tick fires every deadline that has passed: kernel fences first (a lapsed
// fence must win over a due advert), then machine timers, VIP refreshes and
// gratuitous ARP bursts.
func (e *Engine) tick(now time.Time) {
	if !e.startBy.IsZero() && !now.Before(e.startBy) {
		e.startLinked(now, true)
	}
	for _, in := range e.insts {
		if in.fenceExpired(now) {
			e.loseFence(now, in)
		}
	}
	for _, in := range e.insts {
		if d := in.m.NextDeadline(); !d.IsZero() && !now.Before(d) {
			// A group ticks all its due members at once, so the others
			// are no longer due when the loop reaches them.
			e.drive(now, in,
				func(m *Machine) []Action { return m.Tick(now) },
				func(g *SyncGroup, _ int) []GroupAction { return g.Tick(now) })
		}
		if in.holding && !in.refreshAt.IsZero() && !now.Before(in.refreshAt) {
			e.installVIPs(now, in)
		}
		e.undamp(now, in)
		if !in.gate.claimAt.IsZero() && !now.Before(in.gate.claimAt) {
			in.gate.claimAt = time.Time{}
			// A candidate before us took over (we heard its advert): no claim.
			if in.m.State() == StateBackup && !in.m.HeardSince(in.gate.freedAt) {
				e.takeOver(now, in, "ownership key freed")
			}
		}
		if !in.garpSecondAt.IsZero() && !now.Before(in.garpSecondAt) {
			in.garpSecondAt = time.Time{}
			if in.holding {
				in.announce(now, in.garpRepeat())
			}
		}
		if !in.garpLowerAt.IsZero() && !now.Before(in.garpLowerAt) {
			in.garpLowerAt = time.Time{}
			if in.holding {
				in.announce(now, in.cfg.GARPLowerPrioRepeat)
			}
		}
		if !in.garpRefreshAt.IsZero() && !now.Before(in.garpRefreshAt) {
			in.garpRefreshAt = now.Add(in.garpRefresh())
			if in.holding {
				in.announce(now, in.cfg.GARPMasterRefreshRepeat)
			}
		}
	}
	for _, l := range e.links {
		l.paceAnnounce(now)
	}
}

func (e *Engine) nextDeadline() time.Time {
	d := e.startBy
	for _, l := range e.links {
		if len(l.paced) > 0 && (d.IsZero() || l.nextAnnounce.Before(d)) {
			d = l.nextAnnounce
		}
	}
	for _, in := range e.insts {
		if t := in.nextDeadline(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// apply carries out the state machine's actions for one instance, in order.
func (e *Engine) apply(now time.Time, in *instance, acts []Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			in.sendAdvert(a.Priority)
		case AddVIPs:
			if !e.awaitRelease(in, a.Preempted) {
				e.installVIPs(now, in)
			}
		case RemoveVIPs:
			e.removeVIPs(in)
			in.gate.release = e.gated(in)
		case Announce:
			if in.awaiting {
				in.announceDue = true // with the VIPs, once installed
				continue
			}
			in.announceMaster(now)
		case RxLowerPrio:
			// keepalived re-announces when a lower-priority router shows up,
			// to repair caches it may have poisoned: at once and again after
			// garp_lower_prio_delay, for every member of a sync group
			// (vrrp.c vrrp_state_master_rx).
			for _, m := range e.unitMembers(in) {
				if m.holding && m.cfg.GARPLowerPrioRepeat > 0 {
					m.announce(now, m.cfg.GARPLowerPrioRepeat)
					if d := m.cfg.GARPLowerPrioDelay; d > 0 {
						m.garpLowerAt = now.Add(d)
					}
				}
			}
		case Claim:
			e.requestGrant(now, in, a.Priority)
		case TakeoverDenied:
			reason := a.Reason
			if e.gated(in) {
				reason = in.waitReason()
			}
			in.log.Info("takeover denied", "reason", reason)
		case Transition:
			e.candDirty = true
			e.transitioned(now, in, a)
		}
	}
}

func (e *Engine) transitioned(now time.Time, in *instance, t Transition) {
	in.last = control.Transition{From: t.From.String(), To: t.To.String(), Reason: t.Reason, At: t.At}
	in.stats.Transitions++
	in.countTransition(t.From.String(), t.To.String())
	attrs := []any{"from", t.From.String(), "to", t.To.String(), "reason", t.Reason, "priority", in.m.Priority()}
	if e.gated(in) && t.To == StateMaster {
		attrs = append(attrs, "token", in.gate.token)
	}
	in.log.Info("transition", attrs...)
	if t.To != StateInit {
		e.opt.Notifier.Notify(in.notifyScripts(), notify.Event{Type: "INSTANCE", Name: in.cfg.Name, State: t.To.String(),
			Priority: int(in.m.Priority()), Env: e.notifyEnv(in)})
	}
}

// removeVIPs takes an instance's VIPs out of the kernel and stops
// refreshing and announcing them: every step-down, stop and removal goes
// through it.
func (e *Engine) removeVIPs(in *instance) {
	e.deleteVirtualRoutes(in, in.cfg.VirtualRoutes, in.cfg.VirtualRules)
	if err := e.opt.Addrs.Remove(in.vips); err != nil {
		in.log.Error("remove VIPs", "err", err)
	}
	in.dropVIPs()
	e.syncFirewall(nil)
}

// installVIPs installs or refreshes an instance's VIPs with the lifetime
// the fence (and the arbiter's lease) allows. Without a grant it does
// nothing: the VIPs then lapse in the kernel and the instance steps down.
//
// A failed refresh is a refresh that did not happen: fenceUntil keeps the
// lifetime the kernel last accepted, and the fence steps the instance down
// if no retry succeeds before it. A failed first install may still have
// added some of the VIPs, so they count as held for that one lifetime.
func (e *Engine) installVIPs(now time.Time, in *instance) error {
	lt, ok := e.lifetimeFor(in, now)
	if !ok {
		// Retry at the normal pace (never spin): the fence check steps the
		// instance down once the installed lifetime runs out.
		in.log.Warn("no valid grant: VIPs not refreshed")
		in.refreshAt = now.Add(fenceRefreshEvery(in.lifetime))
		return errNoGrant
	}
	in.refreshAt = now.Add(fenceRefreshEvery(lt))
	if !in.holding {
		e.syncFirewall(in) // no_accept: the drop comes before the addresses (keepalived vrrp_state_become_master)
	}
	if err := e.opt.Addrs.Apply(in.vips, lt); err != nil {
		in.stats.InstallErrors++
		in.log.Error("install VIPs", "err", err, "fence_until", in.fenceUntil)
		if !in.holding {
			in.holding, in.fenceUntil = true, now.Add(lt)
		}
		return fmt.Errorf("install VIPs: %w", err)
	}
	in.holding = true
	if !in.routed {
		e.addVirtualRoutes(in)
	}
	in.fenceUntil = now.Add(lt)
	return nil
}

// errNoGrant: a gated instance's VIPs are not (re)installed without one.
var errNoGrant = errors.New("no valid grant")

// loseFence steps down after a lapsed fence: the process was frozen or
// starved past the VIPs' lifetime, so the kernel may have dropped them and
// a backup claimed them since. It must not refresh: it removes what is
// left and listens as a backup before claiming again.
func (e *Engine) loseFence(now time.Time, in *instance) {
	late := now.Sub(in.fenceUntil.Add(-in.lifetime))
	in.log.Warn("kernel fence lapsed, stepping down", "since_last_refresh", late.Round(time.Millisecond), "lifetime", in.lifetime)
	e.stepDown(now, in, fmt.Sprintf("kernel fence lapsed (no refresh for %s)", late.Round(time.Millisecond)))
	in.gate.release = e.gated(in)
	if e.gated(in) {
		e.damp(now, e.unitMembers(in), "kernel fence lapsed")
	}
}

// shutdown steps every instance down: masters send priority 0 and drop
// their VIPs; then STOP notifies run and sockets close.
func (e *Engine) shutdown(now time.Time) {
	for _, g := range e.groups {
		e.applyGroup(now, g, g.sg.Shutdown(now))
	}
	for _, in := range e.insts {
		e.apply(now, in, in.m.Shutdown(now)) // no-op for group members, already stopped
		e.removeVIPs(in)                     // whatever the state, none of our VIPs may outlive the process
		e.opt.Notifier.Notify(in.notifyScripts(), notify.Event{Type: "INSTANCE", Name: in.cfg.Name, State: "STOP", Priority: 0})
	}
	e.flushReleases()
	e.flushCandidacies(now)
	e.closeFirewall()
	e.applyStatic(e.cfg, nil)
	e.restoreSysctls()
	if e.stopTrackers != nil {
		e.stopTrackers()
	}
	e.closeLinks()
}

// closeUnusedLinks closes the links no instance uses any more.
func (e *Engine) closeUnusedLinks() {
	for k, l := range e.links {
		if len(l.insts) == 0 {
			e.closeLink(l)
			delete(e.links, k)
		}
	}
}

func (e *Engine) closeLink(l *link) {
	l.conn.Close()
	if l.ann != nil {
		l.ann.Close()
	}
	if l.vmac {
		if err := e.opt.VMACs.DeleteVMAC(l.key.ifname); err != nil {
			e.log.Warn("delete VMAC", "interface", l.key.ifname, "err", err)
		}
	}
}

func (e *Engine) closeLinks() {
	for k, l := range e.links {
		e.closeLink(l)
		delete(e.links, k)
	}
}
