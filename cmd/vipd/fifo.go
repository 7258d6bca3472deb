package main

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/track"
)

// fifoNotifier is the engine's notifier: every event goes to the notify
// FIFOs (notify_fifo, vrrp_notify_fifo) as a line, then to the scripts.
// The FIFOs are set once before the engine runs and closed after it
// returns, so they need no lock.
type fifoNotifier struct {
	*notify.Notifier
	log   *slog.Logger
	sinks []*notify.FIFOSink
}

var _ vrrp.Notifier = (*fifoNotifier)(nil)

// Notify writes the FIFO lines, then queues the scripts. A full pipe (no
// reader keeping up) loses the line, as with keepalived (EAGAIN).
func (f *fifoNotifier) Notify(s notify.Scripts, ev notify.Event) {
	for _, k := range f.sinks {
		if err := k.Write(ev); err != nil && !errors.Is(err, syscall.EAGAIN) {
			f.log.Warn("notify fifo write", "err", err)
		}
	}
	f.Notifier.Notify(s, ev)
}

// open opens the configured FIFOs and starts their scripts; a FIFO that
// cannot be opened is logged and left out, as keepalived does.
func (f *fifoNotifier) open(g *config.GlobalDefs) {
	for _, c := range []config.NotifyFIFO{g.NotifyFIFO, g.VRRPNotifyFIFO} {
		if c.Path == "" {
			continue
		}
		owner := c.User
		if owner != "" && c.Group != "" {
			owner += ":" + c.Group
		}
		who := c.ScriptUser
		if who == "" {
			who, c.ScriptGroup = g.ScriptUser, g.ScriptGroup
		}
		if who != "" && c.ScriptGroup != "" {
			who += ":" + c.ScriptGroup
		}
		sink, err := notify.OpenFIFOSink(notify.FIFOConfig{Path: c.Path, Owner: owner, Script: c.Script, ScriptUser: who},
			track.ExecRunner{}, f.log)
		if err != nil {
			f.log.Error("notify fifo not used", "fifo", c.Path, "err", err)
			continue
		}
		f.sinks = append(f.sinks, sink)
	}
}

// notifyStopWait bounds how long vipd waits at exit for the notify
// scripts still queued (notify_stop and any transition before it).
const notifyStopWait = 10 * time.Second

// close waits (bounded) for the queued notify scripts — the STOP ones
// included — then stops the FIFO scripts and closes (and removes) the FIFOs.
func (f *fifoNotifier) close() {
	ctx, cancel := context.WithTimeout(context.Background(), notifyStopWait)
	defer cancel()
	if err := f.Notifier.Close(ctx); err != nil {
		f.log.Warn("notify scripts at exit", "err", err)
	}
	for _, k := range f.sinks {
		if err := k.Close(); err != nil {
			f.log.Warn("close notify fifo", "err", err)
		}
	}
	f.sinks = nil
}

// fifoChanged compares two FIFO settings, not where they were written.
func fifoChanged(a, b config.NotifyFIFO) bool {
	a.Pos, b.Pos = config.Pos{}, config.Pos{}
	return a != b
}
