package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// Host is one namespace on the lab LAN with a single interface, eth0.
type Host struct {
	Name      string // "n1", "gw", "client"
	NS        string // namespace name, for `ip netns exec`
	Addr4     netip.Addr
	Addr6     netip.Addr // invalid unless the lab has IPv6
	LinkLocal netip.Addr // eth0's fe80:: address (EUI-64 of MAC)
	MAC       net.HardwareAddr
	Iface     string // "eth0"

	lab   *Lab
	ref   nsRef
	eth   netlink.Link // eth0
	index int          // eth0's ifindex
}

func (h *Host) String() string { return h.Name + "(" + h.NS + ")" }

// Exec runs argv in the host's namespace and returns its standard output;
// on failure the error carries standard error.
func (h *Host) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("lab: %s: %q: %w: %s", h.NS, argv, err, bytesTrim(stderr.Bytes()))
	}
	return out, nil
}

// Do runs f on a locked OS thread inside the host's namespace. Sockets f
// opens stay in the namespace after Do returns; goroutines f starts do not
// run in it.
func (h *Host) Do(f func() error) error { return doIn(h.ref.ns, f) }

// Reach reports whether h and addr can exchange packets both ways: it opens
// a TCP connection to port 9 (discard), and a refusal counts as success
// since the RST came back. Without a deadline on ctx it waits 1s.
func (h *Host) Reach(ctx context.Context, addr netip.Addr) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	var c net.Conn
	err := h.Do(func() error {
		// The socket is created here, on the namespaced thread; the
		// connect then completes through the poller wherever it runs.
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", netip.AddrPortFrom(addr, 9).String())
		return err
	})
	if c != nil {
		c.Close()
	}
	if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	return fmt.Errorf("lab: %s cannot reach %v: %w", h.Name, addr, err)
}

// Start runs a long-lived process in the host's namespace with
// `ip netns exec`, which execs argv, so the Proc's pid is the program's.
// Start returns once ip has exec'd the program, so signals and /proc/PID
// reach the program, not ip. env is added to this process's environment. Output goes to logPath, or
// to a file in the lab's Dir if logPath is empty. The process gets its own
// process group (Close kills the group) and SIGKILL if this process dies.
func (h *Host) Start(argv []string, env []string, logPath string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("lab: Start: empty argv")
	}
	l := h.lab
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("lab: Start on a closed lab")
	}
	if logPath == "" {
		if l.Dir == "" {
			d, err := os.MkdirTemp("", "viplab-"+l.Name+"-")
			if err != nil {
				l.mu.Unlock()
				return nil, fmt.Errorf("lab: log dir: %w", err)
			}
			l.Dir, l.ownDir = d, true
		}
		logPath = filepath.Join(l.Dir, h.Name+"-"+filepath.Base(argv[0])+"-"+strconv.Itoa(l.nlogs)+".log")
		l.nlogs++
	}
	l.mu.Unlock()

	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: log: %w", err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab: start %q in %s: %w", argv, h.NS, err)
	}
	p := &Proc{
		Pid:         cmd.Process.Pid,
		Log:         logPath,
		StopTimeout: 5 * time.Second,
		host:        h,
		argv:        argv,
		cmd:         cmd,
		done:        make(chan struct{}),
	}
	go func() { // the only caller of cmd.Wait; done publishes err
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	p.waitExec(cmd.Args)
	l.mu.Lock()
	l.procs = append(l.procs, p)
	closed := l.closed
	l.mu.Unlock()
	if closed { // Close ran meanwhile and did not see p
		p.killGroup()
		return nil, errors.New("lab: Start on a closed lab")
	}
	return p, nil
}
