package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// Fault windows: how long after the fault the observer's timeline counts.
const (
	// KillWindow covers the arbiter's lease expiry (5 s TTL + grace) with
	// margin; a keepalived master killed with -9 keeps its VIP for ever,
	// so its split brain is this window minus the takeover time.
	KillWindow  = 8 * time.Second
	FreezeFor   = 5 * time.Second
	AfterThaw   = 4 * time.Second
	CutFor      = 6 * time.Second
	AfterHeal   = 3 * time.Second
	afterMoved  = 300 * time.Millisecond
	settleLimit = 45 * time.Second
)

// failoverLab is three nodes (priorities 150, 120, 100) of one kind of
// daemon on one LAN, watched by the observer. vipd runs the gated and the
// plain instance in the same process; keepalived runs the plain one.
type failoverLab struct {
	kind   string
	advert string
	lab    *lab.Lab
	obs    *lab.Observer
	vips   map[string]netip.Addr // system → VIP
	nodes  map[string]*daemon
	vipctl string
	logf   func(string, ...any)
}

var failoverPrio = map[string]int{"n1": 150, "n2": 120, "n3": 100}

func newFailoverLab(ctx context.Context, kind, advert string, bins Bins, dir string, logf func(string, ...any)) (*failoverLab, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	l, err := lab.New(ctx, lab.Options{Prefix: "vb", Nodes: 3, Dir: dir})
	if err != nil {
		return nil, err
	}
	f := &failoverLab{kind: kind, advert: advert, lab: l, nodes: map[string]*daemon{},
		vipctl: filepath.Join(bins.Dir, "vipctl"), logf: logf,
		vips: map[string]netip.Addr{}}
	plain := netip.PrefixFrom(l.Addr4(201), 24)
	var gated netip.Prefix
	var eps string
	bin := bins.Keepalived
	f.vips[SysKeepalived] = plain.Addr()
	if kind == KindVipd {
		delete(f.vips, SysKeepalived)
		f.vips[SysVipd] = plain.Addr()
		gated = netip.PrefixFrom(l.Addr4(200), 24)
		f.vips[SysVipdArbiter] = gated.Addr()
		e, err := l.StartEtcd(ctx, []*lab.Host{l.GW, l.GW, l.GW}, dir)
		if err != nil {
			return nil, errors.Join(err, l.Close())
		}
		eps = e.Endpoints()
		bin = filepath.Join(bins.Dir, "vipd")
	}
	var vips []netip.Addr
	for _, v := range f.vips {
		vips = append(vips, v)
	}
	for _, h := range l.Nodes {
		c := FailoverConf{Router: h.Name, Priority: failoverPrio[h.Name], Advert: advert,
			Plain: plain, Arbiter: gated, Endpoints: eps}
		d, err := newDaemon(kind, bin, h, filepath.Join(dir, h.Name), c.String())
		if err != nil {
			return nil, errors.Join(err, l.Close())
		}
		f.nodes[h.Name] = d
	}
	f.obs = lab.NewObserver(l, vips, lab.DefaultEvery)
	if err := f.obs.Start(); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	for _, h := range l.Nodes {
		if err := f.nodes[h.Name].start(); err != nil {
			return nil, errors.Join(err, l.Close())
		}
	}
	return f, nil
}

func (f *failoverLab) close() error { return f.lab.Close() }

// settle waits until n1 alone holds every VIP, then one more second and
// a random part of an advert interval: the fault must land at a random
// phase of the master's adverts. A fixed delay after the takeover puts it
// at the same phase every time, a phase that differs between the daemons
// (one sends its first advert before installing the VIPs, the other
// after), and the backups' down timers then differ by a constant share
// of an interval.
func (f *failoverLab) settle(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, settleLimit)
	defer cancel()
	if err := f.until(ctx, func(h []string) bool { return slices.Equal(h, []string{"n1"}) }); err != nil {
		return fmt.Errorf("bench: %s lab not settled on n1: %w", f.kind, err)
	}
	return pause(ctx, time.Second+phaseJitter(f.advert))
}

// phaseJitter is a uniformly random duration in [0, advert_int).
func phaseJitter(advert string) time.Duration {
	sec, err := strconv.ParseFloat(advert, 64)
	if err != nil || sec <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(sec * float64(time.Second))))
}

// until polls the observer until cond holds for every VIP's holders.
func (f *failoverLab) until(ctx context.Context, cond func([]string) bool) error {
	for {
		ok := true
		var last []string
		for _, v := range f.vips {
			h := f.obs.Holders(v)
			if !cond(h) {
				ok, last = false, h
			}
		}
		if ok {
			return nil
		}
		if err := pause(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("%w (holders %v)", err, last)
		}
	}
}

// moved waits until every VIP has one holder other than m.
func (f *failoverLab) moved(ctx context.Context, m string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return f.until(ctx, func(h []string) bool { return len(h) == 1 && h[0] != m })
}

// scenario is one fault: run injects it on the master m and returns when
// the window to count has ended, with the fault time per system (the same
// for all but the handover, done one instance at a time); restore brings
// m back.
type scenario struct {
	name     string
	vipdOnly bool
	metrics  []string
	run      func(ctx context.Context, f *failoverLab, m string) (map[string]time.Time, error)
	restore  func(ctx context.Context, f *failoverLab, m string) error
}

func (f *failoverLab) allAt(t time.Time) map[string]time.Time {
	at := map[string]time.Time{}
	for sys := range f.vips {
		at[sys] = t
	}
	return at
}

func restart(_ context.Context, f *failoverLab, m string) error {
	d := f.nodes[m]
	if !d.proc.Exited() {
		if err := d.stop(); err != nil {
			return err
		}
	}
	return d.start()
}

var scenarios = []scenario{
	{name: ScenSIGTERM, metrics: []string{MetricNoHolder},
		run: func(ctx context.Context, f *failoverLab, m string) (map[string]time.Time, error) {
			at := f.allAt(time.Now())
			if err := f.nodes[m].stop(); err != nil {
				return nil, err
			}
			if err := f.moved(ctx, m); err != nil {
				return nil, err
			}
			return at, pause(ctx, afterMoved)
		}, restore: restart},
	{name: ScenHandover, vipdOnly: true, metrics: []string{MetricNoHolder},
		run: func(ctx context.Context, f *failoverLab, m string) (map[string]time.Time, error) {
			at := map[string]time.Time{}
			for sys, inst := range map[string]string{SysVipd: InstPlain, SysVipdArbiter: InstArbiter} {
				at[sys] = time.Now()
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				out, err := exec.CommandContext(cctx, f.vipctl, "--control-socket", f.nodes[m].sock, "handover", inst).CombinedOutput()
				cancel()
				if err != nil {
					return nil, fmt.Errorf("bench: vipctl handover %s: %w: %s", inst, err, out)
				}
			}
			if err := f.moved(ctx, m); err != nil {
				return nil, err
			}
			return at, pause(ctx, afterMoved)
		}, restore: restart},
	{name: ScenKill9, metrics: []string{MetricNoHolder, MetricSplitBrain},
		run: func(ctx context.Context, f *failoverLab, m string) (map[string]time.Time, error) {
			at := f.allAt(time.Now())
			if err := f.nodes[m].kill9(); err != nil {
				return nil, err
			}
			return at, pause(ctx, KillWindow)
		},
		restore: func(ctx context.Context, f *failoverLab, m string) error {
			// A keepalived killed with -9 leaves its VIP behind; the
			// operator (here: us) removes it before restarting.
			for _, v := range f.vips {
				_, _ = f.lab.Host(m).Exec(ctx, "ip", "addr", "del", netip.PrefixFrom(v, 24).String(), "dev", "eth0")
			}
			return f.nodes[m].start()
		}},
	{name: ScenSIGSTOP, metrics: []string{MetricNoHolder, MetricSplitBrain},
		run: func(ctx context.Context, f *failoverLab, m string) (map[string]time.Time, error) {
			at := f.allAt(time.Now())
			if err := f.nodes[m].pause(); err != nil {
				return nil, err
			}
			err := pause(ctx, FreezeFor)
			if rerr := f.nodes[m].resume(); rerr != nil || err != nil {
				return nil, errors.Join(err, rerr)
			}
			return at, pause(ctx, AfterThaw)
		}},
	{name: ScenCut, metrics: []string{MetricSplitBrain},
		run: func(ctx context.Context, f *failoverLab, m string) (map[string]time.Time, error) {
			at := f.allAt(time.Now())
			for _, h := range f.lab.Nodes {
				if h.Name != m {
					if err := f.lab.Cut(f.lab.Host(m), h); err != nil {
						return nil, err
					}
				}
			}
			err := pause(ctx, CutFor)
			if herr := f.lab.HealAll(); herr != nil || err != nil {
				return nil, errors.Join(err, herr)
			}
			return at, pause(ctx, AfterHeal)
		}},
}

// runFailover runs every scenario reps times on a lab of kind at advert.
// A failed repetition is reported in notes and skipped; the lab is
// restarted to recover.
func runFailover(ctx context.Context, kind, advert string, reps int, bins Bins, dir string, logf func(string, ...any)) (out []sample, notes []string, cmds []string, err error) {
	f, err := newFailoverLab(ctx, kind, advert, bins, dir, logf)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.close()
	cmds = append(cmds, f.nodes["n1"].command())
	for rep := 1; rep <= reps; rep++ {
		for _, sc := range scenarios {
			if sc.vipdOnly && kind != KindVipd {
				continue
			}
			if err := ctx.Err(); err != nil {
				return out, notes, cmds, err
			}
			got, err := f.once(ctx, sc)
			if err != nil {
				logf("%s advert_int %s rep %d %s: FAILED: %v", kind, advert, rep, sc.name, err)
				notes = append(notes, fmt.Sprintf("%s, advert_int %s, repetition %d, %s: failed and left out: %v", kind, advert, rep, sc.name, err))
				if rerr := f.recover(ctx); rerr != nil {
					return out, notes, cmds, rerr
				}
				continue
			}
			var line string
			for _, s := range got {
				line += fmt.Sprintf(" %s %s=%.0fms", s.sys, s.metric, s.v)
			}
			logf("%s advert_int %s rep %d/%d %s:%s", kind, advert, rep, reps, sc.name, line)
			out = append(out, got...)
		}
	}
	return out, notes, cmds, nil
}

// once settles, runs one scenario and restores the master.
func (f *failoverLab) once(ctx context.Context, sc scenario) ([]sample, error) {
	if err := f.settle(ctx); err != nil {
		return nil, err
	}
	const m = "n1"
	at, err := sc.run(ctx, f, m)
	end := time.Now()
	if err != nil {
		return nil, err
	}
	rep := f.obs.Snapshot()
	var out []sample
	for _, sys := range Systems {
		v, ok := f.vips[sys]
		if !ok {
			continue
		}
		unheld, split := Window(rep.VIP(v).Spans, at[sys], end)
		for _, metric := range sc.metrics {
			x := unheld
			if metric == MetricSplitBrain {
				x = split
			}
			out = append(out, sample{scen: sc.name, metric: metric, sys: sys, v: float64(x) / float64(time.Millisecond)})
		}
	}
	if sc.restore != nil {
		if err := sc.restore(ctx, f, m); err != nil {
			return out, err
		}
	}
	return out, nil
}

// recover restarts every daemon after a failed repetition.
func (f *failoverLab) recover(ctx context.Context) error {
	_ = f.lab.HealAll()
	for _, d := range f.nodes {
		_ = d.resume()
		if !d.proc.Exited() {
			_ = d.kill9()
		}
		for _, v := range f.vips {
			_, _ = d.host.Exec(ctx, "ip", "addr", "del", netip.PrefixFrom(v, 24).String(), "dev", "eth0")
		}
		if err := d.start(); err != nil {
			return err
		}
	}
	return f.settle(ctx)
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
