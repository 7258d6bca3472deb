package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/arbiter"
	"github.com/vipd/vipd/arbiter/gateway"
	"github.com/vipd/vipd/arbiter/mastership"
	"github.com/vipd/vipd/cluster"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/internal/metrics"
	"github.com/vipd/vipd/internal/sdnotify"
	"github.com/vipd/vipd/lb"
	"github.com/vipd/vipd/lb/check"
	"github.com/vipd/vipd/lb/dataplane"
	"github.com/vipd/vipd/vrrp"
	"github.com/vipd/vipd/vrrp/announce"
	"github.com/vipd/vipd/vrrp/firewall"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/route"
	"github.com/vipd/vipd/vrrp/track"
	"github.com/vipd/vipd/vrrp/vip"
	"github.com/vipd/vipd/vrrp/vrrpconn"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// daemon wires the engine to the OS, the control socket and signals.
type daemon struct {
	opt    options
	log    *slog.Logger
	cfg    *config.Config // as loaded at start (global settings that need a restart)
	engine *vrrp.Engine
	// notifier writes the notify FIFOs, opened for the engine's run.
	notifier *fifoNotifier
	arb      *arbiter.Arbiter // nil without an arbiter block
	side     *side            // gateway prober and gossip; nil without an arbiter block
	started  time.Time

	mu       sync.Mutex // guards reloaded and lb
	reloaded time.Time
	plane    dataplane.Plane // the load balancer's data plane, once chosen
	lb       *lbRun          // nil without virtual servers
	lbCtx    context.Context // parent of the load balancer's runs
}

func newDaemon(o options, cfg *config.Config, log *slog.Logger) (*daemon, error) {
	addrs, err := vip.NewDefault()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	routes, err := route.New(nil)
	if err != nil {
		return nil, err
	}
	var embedded []string
	var emb *cluster.Embedded
	if cfg.Arbiter != nil {
		e, err := startEmbedded(context.Background(), cfg.Arbiter, log)
		if err != nil {
			return nil, err
		}
		if e != nil {
			emb, embedded = e, e.Endpoints()
		}
	}
	arb, err := newArbiter(cfg, o.node, embedded, log)
	if err != nil {
		if emb != nil {
			emb.Close()
		}
		return nil, err
	}
	var gate mastership.Arbiter // a nil *arbiter.Arbiter must stay a nil interface: plain VRRP
	if arb != nil {
		gate = arb
	}
	runner := track.ExecRunner{}
	notifier := &fifoNotifier{Notifier: notify.New(log, runner, notify.DefaultTimeout), log: log}
	eng := vrrp.NewEngine(cfg, vrrp.Options{
		Arbiter: gate,
		Node:    o.node,
		ProbeVIP: func(ctx context.Context, ifname string, vip netip.Addr) (string, bool, error) {
			mac, found, err := gateway.ProbeDuplicate(ctx, ifname, vip, vrrp.ProbeTimeout)
			return mac.String(), found, err
		},
		Log: log,
		OpenConn: func(c vrrpconn.Config) (vrrp.PacketConn, error) {
			return vrrpconn.Dial(c)
		},
		OpenAnnouncer: func(ifname string) (vrrp.Announcer, error) {
			return announce.Open(ifname)
		},
		Addrs:  addrs,
		VMACs:  addrs,
		Routes: routes,
		OpenFirewall: func() (vrrp.Firewall, error) {
			return firewall.Open(nil, firewall.DefaultTable)
		},
		Notifier: notifier,
		Trackers: vrrp.RunTrackers(runner, clock.Real(), log),
	})
	var sd *side
	if arb != nil {
		if sd, err = newSide(cfg, o.node, eng, arb, log); err != nil {
			if emb != nil {
				emb.Close()
			}
			return nil, err
		}
		sd.emb = emb
	}
	return &daemon{opt: o, log: log, cfg: cfg, engine: eng, notifier: notifier, arb: arb, side: sd, started: time.Now()}, nil
}

// run runs the engine and the control socket until ctx ends; SIGHUP reloads.
func (d *daemon) run(ctx context.Context) error {
	d.log.Info("vipd starting", "version", version, "node", d.opt.node, "config", d.opt.file, "arbiter", d.arb != nil)
	// Who waits for whom: run returns once the engine's group (the
	// engine, control socket, metrics, SIGHUP, sd_notify) has returned,
	// then stops the load balancer, then the arbiter's group (see
	// startArbiter), which the engine needed until its last step-down.
	if d.arb != nil {
		stopArbiter := d.startArbiter(ctx)
		defer stopArbiter()
	}
	d.runScript("startup_script", d.cfg.Global.StartupScript) // before any instance starts, as keepalived
	defer d.runScript("shutdown_script", d.cfg.Global.ShutdownScript)
	d.notifier.open(&d.cfg.Global)
	defer d.notifier.close() // after the engine's STOP lines
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.engine.Run(ctx) })
	if err := d.startLB(ctx, d.lbConfig(d.cfg), nil); err != nil {
		return err
	}
	defer d.swapLB(nil, nil) // stop it; it removes what it made
	g.Go(func() error { return control.NewServer(d.opt.socket, d, d.log).Run(ctx) })
	if addr := d.cfg.Global.MetricsListen; addr.IsValid() {
		reg := prometheus.NewRegistry()
		if err := metrics.Register(reg, metrics.NewCollector(statusSource{d}, d.opt.node, d.log), version); err != nil {
			return err
		}
		// A taken metrics port must not stop VRRP: log and retry.
		g.Go(func() error { metrics.ServeRetry(ctx, addr.String(), reg, d.log, 5*time.Second); return nil })
	}
	g.Go(func() error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				if err := d.Reload(); err != nil {
					d.log.Error("reload rejected, keeping the running configuration", "err", err)
				}
			}
		}
	})
	d.notifySystemd(ctx, g)
	err := g.Wait()
	d.log.Info("vipd stopped")
	return err
}

// startArbiter runs the arbiter and its companions (the gateway prober,
// gossip and the policy task) under one group of
// their own, not the engine's: the arbiter outlives the engine, because
// the engine's step-downs at shutdown release their keys through it. The
// returned stop, called once the engine has returned, cancels them, waits
// for every one, then closes the embedded etcd member they used.
func (d *daemon) startArbiter(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// A plain group: each task logs its own error and returns nil, so a
	// failing companion stops neither the arbiter nor the engine.
	var g errgroup.Group
	g.Go(func() error {
		if err := d.arb.Run(ctx); err != nil {
			d.log.Error("arbiter", "err", err)
		}
		return nil
	})
	d.side.start(ctx, &g, d.log)
	d.log.Info("arbiter companions", "side", d.side.String())
	return func() {
		cancel()
		_ = g.Wait() // every task returns nil
		if d.side.emb != nil {
			d.side.emb.Close()
		}
	}
}

// status is the daemon's status: the engine's instances and what the
// daemon adds. When the engine does not answer, it returns the rest and
// the error.
func (d *daemon) status(ctx context.Context) (control.Status, error) {
	insts, err := d.engine.Status(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return control.Status{Node: d.opt.node, ConfigFile: d.opt.file, Started: d.started, Reloaded: d.reloaded,
		Instances: insts, Cluster: d.side.clusterView(), Gateway: d.side.gatewayStatus(), LB: d.lbStatus()}, err
}

// statusSource feeds the metrics collector: unlike Status it reports the
// engine's error, so a scrape can say the daemon did not answer.
type statusSource struct{ d *daemon }

func (s statusSource) Status(ctx context.Context) (control.Status, error) {
	st, err := s.d.status(ctx)
	if err != nil {
		return control.Status{}, err
	}
	return st, nil
}

// Status implements control.Backend: what the daemon has, the engine's
// error only logged.
func (d *daemon) Status() control.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := d.status(ctx)
	if err != nil {
		d.log.Warn("status", "err", err)
	}
	return st
}

// Handover implements control.Backend.
func (d *daemon) Handover(instance, to string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.engine.Handover(ctx, instance, to)
}

// Reload implements control.Backend: a config that does not load is
// rejected with its errors and the running one stays.
func (d *daemon) Reload() error {
	if err := sdnotify.Reloading(); err != nil {
		d.log.Warn("sd_notify", "err", err)
	}
	defer sdnotify.Ready()
	cfg, warns, err := config.Load(d.opt.file, config.WithConfigID(d.opt.configID))
	for _, w := range warns {
		d.log.Warn("config", "warning", w.String())
	}
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.opt.file, err)
	}
	// What runs beside the engine is set up once: a reload cannot change
	// it, so it refuses rather than pretend (keepalived restarts these).
	d.mu.Lock()
	planeRunning := d.plane != nil
	d.mu.Unlock()
	if err := restartOnly(d.cfg, cfg, planeRunning); err != nil {
		return fmt.Errorf("reload %s refused: %w; the running configuration stays (restart vipd to apply it)", d.opt.file, err)
	}
	for _, f := range vrrp.VetScripts(cfg) {
		d.log.Warn("script security", "finding", f)
	}
	if fifoChanged(d.cfg.Global.NotifyFIFO, cfg.Global.NotifyFIFO) || fifoChanged(d.cfg.Global.VRRPNotifyFIFO, cfg.Global.VRRPNotifyFIFO) {
		d.log.Warn("notify_fifo settings changed: they take effect when vipd restarts; the running FIFOs stay")
	}
	// The new load balancer is built (pure) before anything changes, so
	// a virtual server it rejects rejects the whole reload.
	d.mu.Lock()
	var resume map[string]check.Status
	if d.lb != nil {
		resume = d.lb.m.Checks()
	}
	next, plane, err := newLB(d.lbConfig(cfg), filepath.Dir(d.opt.socket), d.plane, resume, d.log)
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.opt.file, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.engine.Reload(ctx, cfg); err != nil {
		return err
	}
	d.swapLB(next, plane)
	d.mu.Lock()
	d.reloaded = time.Now()
	d.mu.Unlock()
	d.log.Info("configuration reloaded", "config", d.opt.file, "instances", len(cfg.Instances))
	return nil
}

// startLB starts the load balancer for cfg (nothing without virtual
// servers); resume carries checker states.
func (d *daemon) startLB(ctx context.Context, cfg *config.Config, resume map[string]check.Status) error {
	m, plane, err := newLB(cfg, filepath.Dir(d.opt.socket), d.plane, resume, d.log)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.lbCtx = ctx
	d.mu.Unlock()
	d.swapLB(m, plane)
	return nil
}

// swapLB replaces the running load balancer with m (nil: none). The old
// one leaves the kernel state to the new one, whose first Apply changes
// only what differs; with no successor it removes what it made.
func (d *daemon) swapLB(m *lb.Manager, plane dataplane.Plane) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.plane = plane
	if old := d.lb; old != nil {
		if m != nil {
			old.m.KeepOnExit()
		}
		old.cancel()
		if err := <-old.done; err != nil {
			d.log.Error("load balancer", "err", err)
		}
		d.lb = nil
	}
	if m == nil || d.lbCtx == nil {
		return
	}
	ctx, cancel := context.WithCancel(d.lbCtx)
	r := &lbRun{m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	d.lb = r
}

// lbStatus is the load balancer's part of the status; nil without one.
// Callers hold d.mu.
func (d *daemon) lbStatus() *control.LBStatus {
	if d.lb == nil {
		return nil
	}
	st := d.lb.m.Status()
	return &st
}

// restartOnly reports the settings that changed between running and next
// but only take effect when vipd starts: the arbiter block (etcd, gateway,
// memberlist, embedded etcd), metrics_listen and the load balancer's data
// plane once one runs.
func restartOnly(running, next *config.Config, planeRunning bool) error {
	var changed []string
	if !running.Arbiter.SameAs(next.Arbiter) {
		changed = append(changed, "the arbiter block")
	}
	if running.Global.MetricsListen != next.Global.MetricsListen {
		changed = append(changed, "metrics_listen")
	}
	if planeRunning && running.Global.LBDataplane != next.Global.LBDataplane {
		changed = append(changed, "lb_dataplane")
	}
	if len(changed) == 0 {
		return nil
	}
	return fmt.Errorf("%s changed", strings.Join(changed, ", "))
}

// runScript runs a startup_script or shutdown_script and waits for it, up
// to its timeout (then its process group is killed), as keepalived does;
// its exit status is only logged.
func (d *daemon) runScript(what string, sc config.RunScript) {
	if sc.Script == "" {
		return
	}
	argv, err := track.SplitCommand(sc.Script)
	if err != nil {
		d.log.Error(what, "err", err)
		return
	}
	user := sc.User
	if user == "" {
		user, sc.Group = d.cfg.Global.ScriptUser, d.cfg.Global.ScriptGroup
	}
	if user != "" && sc.Group != "" {
		user += ":" + sc.Group
	}
	d.log.Info("running "+what, "script", argv[0])
	code, err := track.ExecRunner{}.Run(context.Background(), argv, sc.Timeout, user)
	switch {
	case err != nil:
		d.log.Warn(what+" failed", "err", err)
	case code != 0:
		d.log.Warn(what+" failed", "status", code)
	}
}

// lbConfig is what the load balancer runs: nothing with -P (VRRP only,
// as keepalived -P), else the whole configuration.
func (d *daemon) lbConfig(cfg *config.Config) *config.Config {
	if !d.opt.vrrpOnly {
		return cfg
	}
	c := *cfg
	c.VirtualServers, c.VirtualServerGroups = nil, nil
	return &c
}
