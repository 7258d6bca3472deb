package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// The environment systemd sets for a service (sd_notify(3), sd_watchdog_enabled(3)).
const (
	envSocket        = "NOTIFY_SOCKET"
	envWatchdogUsec  = "WATCHDOG_USEC"
	envWatchdogPID   = "WATCHDOG_PID"
	stateReady       = "READY=1"
	stateStopping    = "STOPPING=1"
	stateWatchdog    = "WATCHDOG=1"
	stateReloading   = "RELOADING=1"
	fieldMonotonicUs = "MONOTONIC_USEC="
)

// Notify sends one state message (newline-separated VAR=value lines) to the
// socket named by $NOTIFY_SOCKET. Without NOTIFY_SOCKET (not started by
// systemd, or a unit that is not Type=notify) it does nothing and returns
// nil, so callers need not know how they were started.
func Notify(state string) error {
	return send(os.Getenv(envSocket), state)
}

// Ready tells systemd that start-up is finished (READY=1).
func Ready() error { return Notify(stateReady) }

// Reloading tells systemd that a reload began; send Ready when it is done.
// MONOTONIC_USEC is what systemd 253+ requires for Type=notify-reload and
// is ignored by older versions.
func Reloading() error {
	s := stateReloading
	if us, ok := monotonicUsec(); ok {
		s += "\n" + fieldMonotonicUs + strconv.FormatInt(us, 10)
	}
	return Notify(s)
}

// Stopping tells systemd that shutdown began (STOPPING=1), so the time vipd
// spends stepping down is shown as "deactivating", not as a crash.
func Stopping() error { return Notify(stateStopping) }

// Watchdog sends one watchdog keep-alive (WATCHDOG=1).
func Watchdog() error { return Notify(stateWatchdog) }

// WatchdogInterval reports the unit's WatchdogSec= as systemd passed it:
// ok is false when the watchdog is off or meant for another process.
// Send keep-alives at half this interval (sd_watchdog_enabled(3)).
func WatchdogInterval() (time.Duration, bool) {
	return watchdogInterval(os.Getenv(envWatchdogUsec), os.Getenv(envWatchdogPID), os.Getpid())
}

func watchdogInterval(usec, pid string, self int) (time.Duration, bool) {
	if usec == "" {
		return 0, false
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || us == 0 || us > uint64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0, false
	}
	// WATCHDOG_PID is set when the variables may have been inherited by a
	// child (a notify script): only the named process owns the watchdog.
	if pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p != self {
			return 0, false
		}
	}
	return time.Duration(us) * time.Microsecond, true
}

// KeepAlive sends WATCHDOG=1 on every tick for which healthy returns nil,
// until ctx ends (then it returns nil) or a keep-alive cannot be sent (then
// it returns that error: the socket is systemd's, so retrying is futile). A
// failing check sends nothing, so systemd restarts vipd once WatchdogSec
// passes without a keep-alive; healthy should prove the engine still answers
// (e.g. a status query with a timeout below the tick period). The caller
// owns the ticker: tick every WatchdogInterval()/2.
func KeepAlive(ctx context.Context, tick <-chan time.Time, healthy func(context.Context) error) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		if healthy(ctx) != nil {
			continue
		}
		if err := Watchdog(); err != nil {
			return err
		}
	}
}

// send writes state as one datagram to the unix socket addr. A leading "@"
// names a socket in the abstract namespace (Go maps it to a leading NUL).
func send(addr, state string) error {
	if addr == "" {
		return nil
	}
	if addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("sdnotify: unsupported %s %q: %w", envSocket, addr, errUnsupported)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: send %q: %w", state, err)
	}
	return nil
}

var errUnsupported = errors.New("only unix socket paths and @abstract names are supported")
