package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is a process started by Host.Start.
type Proc struct {
	Pid int
	Log string // path of the file receiving stdout and stderr
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL (5s).
	StopTimeout time.Duration

	host *Host
	argv []string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error         // cmd.Wait's result, written before done is closed
}

// Host is where the process runs.
func (p *Proc) Host() *Host { return p.host }

// Signal sends sig to the process (not its children).
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("lab: signal %v to pid %d: %w", sig, p.Pid, os.ErrProcessDone)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("lab: signal %v to pid %d: %w", sig, p.Pid, err)
	}
	return nil
}

// Kill sends SIGKILL (kill -9) and waits until the process is reaped. It is
// not an error if the process had already exited.
func (p *Proc) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil && !p.Exited() {
		return err
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM (and SIGCONT, in case it is paused) and waits up to StopTimeout for the process to exit,
// then kills it. It returns an error only if it had to kill (or could not
// signal): a graceful exit with any status is nil; see Wait for the status.
func (p *Proc) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		if p.Exited() {
			return nil
		}
		return err
	}
	// A paused process would hold SIGTERM pending forever.
	_ = p.Signal(syscall.SIGCONT)
	t := time.NewTimer(p.StopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("lab: pid %d %q ignored SIGTERM for %v; killed", p.Pid, p.argv, p.StopTimeout)
}

// Pause freezes the process (SIGSTOP), like a hung daemon.
func (p *Proc) Pause() error { return p.Signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() error { return p.Signal(syscall.SIGCONT) }

// Wait blocks until the process exits and returns its exit error.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited (and been reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killGroup kills the process and everything in its process group (its
// scripts), and waits for the process. Used by Lab.Close.
func (p *Proc) killGroup() error {
	// The group id stays reserved while any member lives, so this cannot
	// hit an unrelated process even after p itself exited.
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("lab: kill group %d: %w", p.Pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("lab: pid %d not reaped 10s after SIGKILL", p.Pid)
	}
}

// waitExec waits (up to 5s) until the process runs the program rather
// than the `ip netns exec` wrapper whose command line was wrapper: ip
// switches namespace and execs within milliseconds. An unreadable or empty
// command line means an exec is in progress, so it keeps waiting.
func (p *Proc) waitExec(wrapper []string) {
	want := []byte(strings.Join(wrapper, "\x00") + "\x00")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !p.Exited() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Pid))
		if err == nil && len(b) > 0 && !bytes.Equal(b, want) {
			return
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// tail returns the last n lines of a file, for failure logs.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
