package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// Kinds of daemon.
const (
	KindVipd       = "vipd"
	KindKeepalived = "keepalived"
)

// daemon is vipd or keepalived on one lab host, restartable. Every signal
// goes to the whole process group (Host.Start makes one per daemon):
// keepalived is a parent plus a VRRP (or checker) child, and stopping or
// killing only the parent is not the fault we mean — the child gets
// SIGTERM as its parent-death signal and shuts down cleanly.
type daemon struct {
	kind string
	bin  string // vipd or keepalived binary
	args []string
	host *lab.Host
	dir  string
	conf string
	sock string // vipd control socket
	proc *lab.Proc
	runs int
}

func newDaemon(kind, bin string, h *lab.Host, dir, conf string, extra ...string) (*daemon, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	d := &daemon{kind: kind, bin: bin, host: h, dir: dir, conf: filepath.Join(dir, "keepalived.conf"), args: extra}
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return d, nil
}

// argv is the exact command line (run inside the host's namespace).
// keepalived runs in the foreground, logs to the console and has its own
// pid files: the default ones under /run are shared by all namespaces,
// and keepalived refuses to start when they name a live process (as in
// internal/interop's runner).
func (d *daemon) argv() []string {
	switch d.kind {
	case KindVipd:
		d.sock = filepath.Join(d.dir, "vipd.sock")
		return append([]string{d.bin, "-f", d.conf, "--node-name", d.host.Name, "--control-socket", d.sock}, d.args...)
	default:
		return append([]string{d.bin, "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
			"-f", d.conf,
			"-p", filepath.Join(d.dir, "keepalived.pid"),
			"-r", filepath.Join(d.dir, "vrrp.pid"),
			"-c", filepath.Join(d.dir, "checkers.pid"),
			"-b", filepath.Join(d.dir, "bfd.pid")}, d.args...)
	}
}

// start (re)starts the daemon with a fresh log.
func (d *daemon) start() error {
	d.runs++
	log := filepath.Join(d.dir, fmt.Sprintf("%s-%d.log", d.kind, d.runs))
	p, err := d.host.Start(d.argv(), nil, log)
	if err != nil {
		return fmt.Errorf("bench: start %s on %s: %w", d.kind, d.host.Name, err)
	}
	d.proc = p
	return nil
}

func (d *daemon) group(sig syscall.Signal) error {
	if err := syscall.Kill(-d.proc.Pid, sig); err != nil {
		return fmt.Errorf("bench: %v to %s group %d: %w", sig, d.kind, d.proc.Pid, err)
	}
	return nil
}

// stop is a clean shutdown (SIGTERM; keepalived's parent passes it on).
func (d *daemon) stop() error { return d.proc.Stop() }

// kill9 kills every process of the daemon and waits for the main one.
func (d *daemon) kill9() error {
	if err := d.group(syscall.SIGKILL); err != nil {
		return err
	}
	<-d.proc.Done()
	return nil
}

func (d *daemon) pause() error  { return d.group(syscall.SIGSTOP) }
func (d *daemon) resume() error { return d.group(syscall.SIGCONT) }

// command renders argv as the report shows it, with the namespace wrapper.
func (d *daemon) command() string {
	return "ip netns exec NS " + strings.Join(d.argv(), " ")
}

// waitUp waits until the daemon has been running for a moment (a broken
// config makes it exit at once) and reports its log tail otherwise.
func (d *daemon) waitUp(ctx context.Context, limit time.Duration) error {
	select {
	case <-d.proc.Done():
		b, _ := os.ReadFile(d.proc.Log)
		return fmt.Errorf("bench: %s on %s exited at start: %s", d.kind, d.host.Name, lastLines(string(b), 8))
	case <-time.After(limit):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
