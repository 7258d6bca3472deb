package main

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vipd/vipd/internal/sdnotify"
)

// notifySystemd speaks sd_notify(3) when systemd runs vipd (Type=notify and
// WatchdogSec= in deploy/systemd/vipd.service): READY=1 now, STOPPING=1 when
// ctx ends, and WATCHDOG=1 every WatchdogSec/2 while the engine answers a
// status query. Without NOTIFY_SOCKET every call is a no-op.
func (d *daemon) notifySystemd(ctx context.Context, g *errgroup.Group) {
	if err := sdnotify.Ready(); err != nil {
		d.log.Warn("sd_notify", "err", err)
	}
	g.Go(func() error {
		<-ctx.Done()
		if err := sdnotify.Stopping(); err != nil {
			d.log.Warn("sd_notify", "err", err)
		}
		return nil
	})
	iv, ok := sdnotify.WatchdogInterval()
	if !ok {
		return
	}
	g.Go(func() error {
		t := time.NewTicker(iv / 2)
		defer t.Stop()
		err := sdnotify.KeepAlive(ctx, t.C, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, iv/4)
			defer cancel()
			if _, err := d.engine.Status(ctx); err != nil {
				d.log.Error("watchdog: the engine does not answer, no keep-alive sent", "err", err)
				return err
			}
			return nil
		})
		if err != nil {
			// Not fatal here: without keep-alives systemd restarts vipd.
			d.log.Error("watchdog keep-alives stopped", "err", err)
		}
		return nil
	})
}
