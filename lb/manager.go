package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/lb/check"
	"github.com/vipd/vipd/lb/dataplane"
	"github.com/vipd/vipd/vrrp/track"
)

// Options are a Manager's dependencies; zero values mean real ones.
type Options struct {
	Log *slog.Logger
	// Runner runs MISC_CHECK commands and the notify/quorum scripts.
	Runner track.Runner
	Clock  clock.Clock
	// Dev names the interface an address arrives on (for DR); nil means
	// none is known.
	Dev func(netip.Addr) string
	// Local reports whether this node holds addr (ha_suspend); nil means
	// always.
	Local func(netip.Addr) bool
	// Resume carries checker states across a reload (Manager.Checks of
	// the previous manager).
	Resume map[string]check.Status
	// Resync re-applies the desired state this often even without changes,
	// repairing drift (a flushed table, a real server's new MAC); 0 means
	// 10 s.
	Resync time.Duration
	// NewProber builds probers; nil means check.NewProber. Tests inject it.
	NewProber func(ck *config.Checker, rs netip.AddrPort, run track.Runner) (check.Prober, error)
}

// Manager runs the checkers of every virtual server and keeps the data
// plane equal to what their results ask for.
type Manager struct {
	o     Options
	plane dataplane.Plane
	log   *slog.Logger
	pools []*pool

	// updates carries every checker's statuses; where finds a status's
	// checker by its key (set before the checkers start, then read-only).
	updates chan check.Status
	where   map[string]where
	// probers holds each checker's prober by key, built by New so that
	// a checker that cannot run (a bad certificate file, say) fails the
	// start or reload instead of leaving its real server up unchecked.
	probers map[string]check.Prober
	scripts chan event

	mu      sync.Mutex // guards what Status and Checks read
	applied time.Time
	lastErr string
	// changes counts the pool changes recorded; inKernel is its value in
	// the last state the plane took. They differ while a change waits for
	// (or failed) its Apply: status shows the kernel lagging.
	changes, inKernel uint64
	keep              bool // Run leaves the kernel state at exit (reload hands over)
}

type where struct{ pool, member, checker int }

// New builds a manager for cfg's virtual servers on plane.
func New(cfg *config.Config, plane dataplane.Plane, o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Runner == nil {
		o.Runner = track.ExecRunner{}
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Resync <= 0 {
		o.Resync = 10 * time.Second
	}
	if o.NewProber == nil {
		o.NewProber = check.NewProber
	}
	m := &Manager{o: o, plane: plane, log: o.Log.With("component", "lb", "dataplane", plane.Name()),
		updates: make(chan check.Status, 1024), where: map[string]where{}, scripts: make(chan event, 1024),
		probers: map[string]check.Prober{}}
	var errs []error
	for _, vs := range cfg.VirtualServers {
		p, err := newPool(vs, cfg.VirtualServerGroups, o.Resume)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v, ok := plane.(dataplane.Validator); ok {
			for _, s := range p.configured(o.Dev) {
				if err := v.Validate(s); err != nil {
					errs = append(errs, fmt.Errorf("%s: virtual_server %s: %s data plane: %w", vs.Pos, p.name, plane.Name(), err))
					break
				}
			}
		}
		for _, mem := range p.members {
			for ci, ck := range mem.rs.Checkers {
				probe, err := o.NewProber(ck, netip.AddrPortFrom(mem.rs.Addr, mem.rs.Port), o.Runner)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s on real_server %s: %w", ck.Pos, ck.Kind, mem.key, err))
					continue
				}
				m.probers[checkerKey(p.name, mem.key, ci)] = probe
			}
		}
		m.seedFileChecks(p)
		m.pools = append(m.pools, p)
	}
	return m, errors.Join(errs...)
}

// seedFileChecks reads the track file of every FILE_CHECK of p that
// does not resume a state, so the first table already reflects it:
// keepalived reads the files at start and sets their checkers before it
// programs IPVS (check_file.c set_track_file_checkers_down, which also
// ignores alpha).
func (m *Manager) seedFileChecks(p *pool) {
	for mi, mem := range p.members {
		for ci, ck := range mem.rs.Checkers {
			key := checkerKey(p.name, mem.key, ci)
			if _, ok := m.o.Resume[key]; ok || ck.Kind != config.CheckFile {
				continue
			}
			probe, ok := m.probers[key]
			if !ok {
				continue
			}
			r := probe.Probe(context.Background())
			p.update(mi, ci, check.Status{Key: key, Up: r.OK, Detail: r.Detail, Weight: r.Weight, Offset: r.Offset,
				LastCheck: m.o.Clock.Now()})
		}
	}
}

// Desired is the state the data plane should hold now.
func (m *Manager) Desired() dataplane.State {
	var st dataplane.State
	for _, p := range m.pools {
		st.Services = append(st.Services, p.services(m.o.Dev)...)
	}
	return st
}

// KeepOnExit makes Run leave the kernel state in place when it returns:
// the next manager (after a reload) takes it over with its first Apply.
func (m *Manager) KeepOnExit() {
	m.mu.Lock()
	m.keep = true
	m.mu.Unlock()
}

// Run starts the checkers, applies the state at once and after every
// change, and at exit (unless KeepOnExit) runs the omega scripts and
// removes what the plane made.
func (m *Manager) Run(ctx context.Context) error {
	cctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); m.runScripts(cctx) }()
	n := 0
	for pi, p := range m.pools {
		for mi, mem := range p.members {
			for ci, ck := range mem.rs.Checkers {
				key := checkerKey(p.name, mem.key, ci)
				probe, ok := m.probers[key]
				if !ok {
					continue // New refused the configuration
				}
				opt := check.Options{Clock: m.o.Clock}
				if st, ok := m.o.Resume[key]; ok {
					opt.Resume = &st
				}
				timing := check.TimingOf(ck, p.vs.Alpha)
				switch {
				case ck.Kind == config.CheckFile:
					// Seeded by New (or resumed): carry that state on.
					st := mem.checks[ci]
					opt.Resume, timing = &st, check.FileTiming()
				case p.vs.HASuspend && m.o.Local != nil:
					addrs := p.entries
					opt.Paused = func() bool { return !anyLocal(addrs, m.o.Local) }
				}
				c := check.NewChecker(key, probe, timing, opt)
				m.where[key] = where{pi, mi, ci}
				wg.Add(1)
				go func() { defer wg.Done(); _ = c.Run(cctx, m.updates) }()
				n++
			}
		}
	}
	m.log.Info("load balancer started", "virtual_servers", len(m.pools), "checkers", n)
	m.apply()
	resync := m.o.Clock.After(m.o.Resync)
	for {
		select {
		case <-ctx.Done():
			stop()
			wg.Wait()
			m.exit()
			return nil
		case u := <-m.updates:
			changed := m.record(u)
			// Drain what is queued so a burst of results costs one Apply.
			for more := true; more; {
				select {
				case u := <-m.updates:
					changed = m.record(u) || changed
				default:
					more = false
				}
			}
			if changed {
				m.apply()
			}
		case <-resync:
			m.apply()
			resync = m.o.Clock.After(m.o.Resync)
		}
	}
}

// record applies one checker status; it reports whether the kernel state
// may have changed.
func (m *Manager) record(st check.Status) bool {
	u, ok := m.where[st.Key]
	if !ok {
		return false
	}
	m.mu.Lock()
	p := m.pools[u.pool]
	evs, changed := p.update(u.member, u.checker, st)
	if changed {
		m.changes++
	}
	m.mu.Unlock()
	for _, ev := range evs {
		m.log.Info("load balancer change", "event", ev.kind, "vs", ev.vs, "rs", ev.rs, "reason", ev.detail)
		if ev.script != "" {
			select {
			case m.scripts <- ev:
			default:
				m.log.Warn("script queue full, dropped", "event", ev.kind, "script", ev.script)
			}
		}
	}
	return changed
}

func (m *Manager) apply() {
	st, gen := m.snapshotDesired()
	err := m.plane.Apply(st)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != m.lastErr {
			m.log.Error("data plane apply failed; retrying at the next change or resync", "err", err)
			m.lastErr = msg
		}
		return
	}
	if m.lastErr != "" {
		m.log.Info("data plane apply recovered")
	}
	m.lastErr = ""
	m.applied = m.o.Clock.Now()
	m.inKernel = gen
}

// snapshotDesired is the desired state and the count of changes it holds.
func (m *Manager) snapshotDesired() (dataplane.State, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Desired(), m.changes
}

// exit runs at shutdown: omega scripts, then the plane's cleanup.
func (m *Manager) exit() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for more := true; more; { // scripts still queued run first, in order
		select {
		case ev := <-m.scripts:
			m.runScript(ctx, ev)
		default:
			more = false
		}
	}
	m.mu.Lock()
	keep := m.keep
	m.mu.Unlock()
	if keep {
		return
	}
	for _, p := range m.pools {
		if !p.vs.Omega {
			continue
		}
		// keepalived's omega: notify_down for live real servers and
		// quorum_down, as if everything went down at shutdown.
		for _, mem := range p.members {
			if mem.alive && mem.rs.NotifyDown != "" {
				m.runScript(ctx, event{kind: EventRSDown, vs: p.name, rs: mem.key, script: mem.rs.NotifyDown})
			}
		}
		if p.quorum && p.vs.QuorumDown != "" {
			m.runScript(ctx, event{kind: EventQuorumDown, vs: p.name, script: p.vs.QuorumDown})
		}
	}
	if err := m.plane.Remove(); err != nil {
		m.log.Error("data plane cleanup failed", "err", err)
		return
	}
	m.log.Info("load balancer stopped; kernel state removed")
}

// runScripts runs notify_up/down and quorum_up/down in order, one at a
// time, so a slow script delays later scripts but never the checkers.
func (m *Manager) runScripts(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-m.scripts:
			m.runScript(ctx, ev)
		}
	}
}

// scriptTimeout bounds a notify or quorum script (keepalived has none; a
// hung script would otherwise stall every later one).
const scriptTimeout = 60 * time.Second

func (m *Manager) runScript(ctx context.Context, ev event) {
	argv, err := track.SplitCommand(ev.script)
	if err != nil {
		m.log.Error("script not runnable", "event", ev.kind, "script", ev.script, "err", err)
		return
	}
	code, err := m.o.Runner.Run(ctx, argv, scriptTimeout, "")
	switch {
	case err != nil:
		m.log.Warn("script failed", "event", ev.kind, "vs", ev.vs, "rs", ev.rs, "script", ev.script, "err", err)
	case code != 0:
		m.log.Warn("script failed", "event", ev.kind, "vs", ev.vs, "rs", ev.rs, "script", ev.script, "exit", code)
	}
}

func anyLocal(entries []vsAddress, local func(netip.Addr) bool) bool {
	for _, e := range entries {
		if !e.addr.IsValid() || local(e.addr) {
			return true
		}
	}
	return false
}

// Status reports the data plane and every virtual server for vipctl.
func (m *Manager) Status() control.LBStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := control.LBStatus{Dataplane: m.plane.Name(), Applied: m.applied, Error: m.lastErr, Pending: m.changes != m.inKernel}
	for _, p := range m.pools {
		vs := control.VirtualServerStatus{Name: p.name, Algo: p.vs.LBAlgo, Kind: p.vs.LBKind, Quorum: p.quorum}
		if vs.Algo == "" {
			vs.Algo = "wlc"
		}
		if vs.Kind == "" {
			vs.Kind = dataplane.NAT
		}
		vs.Sorry = p.hasSorry() && !p.quorum
		for _, mem := range p.members {
			rs := control.RealServerStatus{Addr: mem.key, Alive: mem.alive, InTable: check.InTable(*mem.rs, mem.alive) && !vs.Sorry}
			if mem.alive {
				rs.Weight = mem.weight
			}
			for i, st := range mem.checks {
				rs.Checkers = append(rs.Checkers, control.CheckerStatus{Kind: mem.rs.Checkers[i].Kind, Up: st.Up,
					Detail: st.Detail, LastCheck: st.LastCheck, Failures: st.Failures})
			}
			vs.RealServers = append(vs.RealServers, rs)
		}
		out.VirtualServers = append(out.VirtualServers, vs)
	}
	return out
}

// Checks returns every checker's state, for Options.Resume of the manager
// that replaces this one on reload.
func (m *Manager) Checks() map[string]check.Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]check.Status{}
	for _, p := range m.pools {
		for _, mem := range p.members {
			for i, st := range mem.checks {
				out[checkerKey(p.name, mem.key, i)] = st
			}
		}
	}
	return out
}
