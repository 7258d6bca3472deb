package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// Options configure a benchmark run.
type Options struct {
	Bins Bins
	// Reps is the number of repetitions of every failover scenario.
	Reps int
	// Adverts are the advert intervals of the failover rows: "1" and the
	// fast one.
	Adverts []string
	// Sizes are the footprint instance counts; the last is also the
	// config-load size.
	Sizes []int
	// Settle and Window are the footprint's and checkers' idle settling
	// time and measuring window.
	Settle, Window time.Duration
	// LoadReps is how many times each daemon's -t is timed.
	LoadReps int
	// Checkers is the number of real servers of the checker row (0 skips).
	Checkers int
	Command  string // the command line, for the report
	Plot     string // plot file name as the markdown links it
	Logf     func(format string, args ...any)
}

// DefaultOptions is the full run; quick is the smoke test (1 repetition,
// two sizes, short windows).
func DefaultOptions(quick bool) Options {
	if quick {
		return Options{Reps: 1, Adverts: []string{"1", "0.1"}, Sizes: []int{1, 100}, Settle: 3 * time.Second,
			Window: 15 * time.Second, LoadReps: 3, Checkers: 1000}
	}
	return Options{Reps: 5, Adverts: []string{"1", "0.1"}, Sizes: []int{1, 100, 1000}, Settle: 10 * time.Second,
		Window: 60 * time.Second, LoadReps: 7, Checkers: 1000}
}

// Run measures everything and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("bench: needs root (it creates network namespaces)")
	}
	for _, p := range []string{filepath.Join(o.Bins.Dir, "vipd"), filepath.Join(o.Bins.Dir, "vipctl"), o.Bins.Keepalived} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("bench: %w (run make build; apt-get install keepalived)", err)
		}
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir, err := os.MkdirTemp("", "vipbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	lab.Sweep("vb")
	start := time.Now()
	r := &Report{Command: o.Command, Started: start, Plot: o.Plot,
		Machine: Machine(), Versions: Versions(filepath.Join(o.Bins.Dir, "vipd"), o.Bins.Keepalived)}
	r.Settings = []string{
		fmt.Sprintf("Failover: a namespace lab per daemon (internal/lab), three nodes on one bridge with priorities 150/120/100, `state BACKUP`, preemption on; the observer lists every node's addresses every 5 ms, so every time here is ±5 ms. Each scenario is repeated %d times per advert interval (%s s; a fraction means VRRPv3 for both daemons); the keepalived and vipd labs run at the same time. Cells are median (min–max).", o.Reps, strings.Join(o.Adverts, " and ")),
		"vipd runs two instances in one process, as `make demo` does: one gated by the etcd arbiter (a 3-member etcd on the lab gateway started by lab.StartEtcd: heartbeat 50 ms, election timeout 500 ms; `lease_ttl 5`, the default; 4 is the floor) and one with `arbiter off`, plain VRRP as keepalived. Each fault hits both. After a fault the master is restarted (a keepalived killed with -9 first has its leftover VIP deleted) and the next scenario waits until n1 holds every VIP again.",
		fmt.Sprintf("Windows: no-holder and split-brain are the totals from the fault until the window ends: SIGTERM and handover until the VIP has one new holder + %v; kill -9: %v (a keepalived master killed with -9 keeps its VIP for ever, so its split brain is the window minus the takeover; vipd's kernel fence removes it); SIGSTOP: frozen %v, then %v after SIGCONT (the master's return counts); cut: %v, then %v after healing.", afterMoved, KillWindow, FreezeFor, AfterThaw, CutFor, AfterHeal),
		fmt.Sprintf("Footprint: one lab node per daemon and size, all idle at once; instances are VRRPv2 at advert_int 1 with one /32 VIP each, 250 VRIDs per interface (veth pairs inside the node: this kernel has no dummy module). Settle %v after every VIP is installed, then measure %v.", o.Settle, o.Window),
	}

	// Failover: keepalived and vipd side by side, one advert at a time.
	for _, adv := range o.Adverts {
		var mu sync.Mutex
		var all []sample
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, kind := range []string{KindKeepalived, KindVipd} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ss, notes, cmds, err := runFailover(ctx, kind, adv, o.Reps, o.Bins, filepath.Join(dir, fmt.Sprintf("fo-%s-%s", kind, adv)), logf)
				mu.Lock()
				defer mu.Unlock()
				all = append(all, ss...)
				r.Notes = append(r.Notes, notes...)
				if adv == o.Adverts[0] {
					r.Commands = append(r.Commands, cmds...)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		r.Measures = append(r.Measures, buildFailover(adv, all)...)
	}

	// Footprint, config load and checkers: one lab, a node per daemon.
	nodes := 2*len(o.Sizes) + 3
	l, err := lab.New(ctx, lab.Options{Prefix: "vb", Nodes: nodes, Dir: dir})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	big := o.Sizes[len(o.Sizes)-1]
	if err := addIfaces(ctx, l.Nodes[nodes-1], FootprintIfaces(big)); err != nil {
		return nil, err
	}
	ls, lnotes, err := configLoad(ctx, l.Nodes[nodes-1], big, o.LoadReps, o.Bins, dir)
	if err != nil {
		return nil, err
	}
	load := &Measure{ID: "configload", Scenario: ScenConfigLoad, Metric: MetricLoad, Size: big, Unit: UnitMS,
		Title: fmt.Sprintf("config load + validation, %d instances (`-t`)", big)}
	for _, s := range ls {
		load.Add(s.sys, s.v)
	}
	logf("config load: keepalived %s ms, vipd %s ms (medians)", format(UnitMS, load.Summary(SysKeepalived).Median), format(UnitMS, load.Summary(SysVipd).Median))
	r.Notes = append(r.Notes, lnotes...)

	fs, fcmds, err := runFootprint(ctx, l, o.Sizes, o.Settle, o.Window, o.Bins, dir, logf)
	if err != nil {
		return nil, err
	}
	r.Measures = append(r.Measures, buildFootprint(o.Sizes, o.Window.String(), fs)...)
	r.Measures = append(r.Measures, load)
	r.Commands = append(r.Commands, fcmds...)

	if o.Checkers > 0 {
		cr, err := runCheckers(ctx, l, l.Nodes[nodes-3], l.Nodes[nodes-2], l.Nodes[nodes-1], o.Checkers, o.Settle, o.Window, o.Bins, dir, logf)
		if err != nil {
			return nil, err
		}
		r.Measures = append(r.Measures, buildCheckers(o.Checkers, cr.kaMissing, cr.samples)...)
		r.Notes = append(r.Notes, cr.notes...)
		r.Commands = append(r.Commands, cr.cmds...)
	}
	// Paths of this run's temporary directory mean nothing later.
	for i, c := range r.Commands {
		c = strings.ReplaceAll(c, dir, "$TMP")
		r.Commands[i] = strings.ReplaceAll(c, o.Bins.Dir+"/", "bin/")
	}
	r.Runtime = time.Since(start)
	return r, nil
}

// Write writes the markdown to md and the plot to png.
func Write(r *Report, md, png string) error {
	var buf bytes.Buffer
	if err := WritePNG(&buf, PlotMeasures(r.Measures), "vipd vs keepalived: failover times in ms, one dot per repetition, bar = median ("+r.Started.UTC().Format("2006-01-02")+")"); err != nil {
		return err
	}
	if err := os.WriteFile(png, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(md, []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}
