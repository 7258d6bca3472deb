package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/vrrp"
	"github.com/vipd/vipd/vrrp/announce"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/track"
	"github.com/vipd/vipd/vrrp/vip"
	"github.com/vipd/vipd/vrrp/vrrpconn"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// daemon wires the engine to the OS, the control socket and signals.
type daemon struct {
	opt     options
	log     *slog.Logger
	engine  *vrrp.Engine
	gate    *gate // nil without an arbiter block
	started time.Time

	mu       sync.Mutex // guards reloaded
	reloaded time.Time
}

func newDaemon(o options, cfg *config.Config, log *slog.Logger) (*daemon, error) {
	addrs, err := vip.NewDefault()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	g, err := newGate(cfg, o.node, log)
	if err != nil {
		return nil, err
	}
	var arb vrrp.Arbiter
	if g != nil {
		arb = g
	}
	runner := track.ExecRunner{}
	notifier := notify.New(log, runner, notify.DefaultTimeout)
	eng := vrrp.NewEngine(cfg, vrrp.Options{
		Arbiter: arb,
		Node:    o.node,
		Log:     log,
		OpenConn: func(c vrrpconn.Config) (vrrp.PacketConn, error) {
			return vrrpconn.Dial(c)
		},
		OpenAnnouncer: func(ifname string) (vrrp.Announcer, error) {
			return announce.Open(ifname)
		},
		Addrs:    addrs,
		VMACs:    addrs,
		Notifier: notifier,
		Trackers: vrrp.RunTrackers(runner, track.RealClock{}, log),
	})
	return &daemon{opt: o, log: log, engine: eng, gate: g, started: time.Now()}, nil
}

// run runs the engine and the control socket until ctx ends; SIGHUP reloads.
func (d *daemon) run(ctx context.Context) error {
	d.log.Info("vipd starting", "version", version, "node", d.opt.node, "config", d.opt.file, "arbiter", d.gate != nil)
	// The arbiter outlives the engine: the engine's step-downs at shutdown
	// release their keys through it, so it stops only after the engine.
	if d.gate != nil {
		arbCtx, stopArb := context.WithCancel(context.Background())
		arbDone := make(chan error, 1)
		go d.gate.pump(arbCtx)
		go func() { arbDone <- d.gate.a.Run(arbCtx) }()
		defer func() {
			stopArb()
			if err := <-arbDone; err != nil {
				d.log.Error("arbiter", "err", err)
			}
		}()
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.engine.Run(ctx) })
	g.Go(func() error { return control.NewServer(d.opt.socket, d, d.log).Run(ctx) })
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
	err := g.Wait()
	d.log.Info("vipd stopped")
	return err
}

// Status implements control.Backend.
func (d *daemon) Status() control.Status {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	insts, err := d.engine.Status(ctx)
	if err != nil {
		d.log.Warn("status", "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return control.Status{Node: d.opt.node, ConfigFile: d.opt.file, Started: d.started, Reloaded: d.reloaded, Instances: insts}
}

// Handover implements control.Backend.
func (d *daemon) Handover(instance string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.engine.Handover(ctx, instance)
}

// Reload implements control.Backend: a config that does not load is
// rejected with its errors and the running one stays.
func (d *daemon) Reload() error {
	cfg, warns, err := config.Load(d.opt.file)
	for _, w := range warns {
		d.log.Warn("config", "warning", w.String())
	}
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.opt.file, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.engine.Reload(ctx, cfg); err != nil {
		return err
	}
	d.mu.Lock()
	d.reloaded = time.Now()
	d.mu.Unlock()
	d.log.Info("configuration reloaded", "config", d.opt.file, "instances", len(cfg.Instances))
	return nil
}
