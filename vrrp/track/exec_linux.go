package track

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultGrace is how long ExecRunner waits after SIGTERM before SIGKILL.
const DefaultGrace = 500 * time.Millisecond

// ExecRunner runs commands as child processes, each in its own process
// group so that a timeout kills everything the script started (keepalived
// sends SIGTERM, then SIGKILL to the process group).
type ExecRunner struct {
	// Grace between SIGTERM and SIGKILL; 0 means DefaultGrace.
	Grace time.Duration
}

var _ Runner = ExecRunner{}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, argv []string, timeout time.Duration, user string) (int, error) {
	return r.RunEnv(ctx, argv, nil, timeout, user)
}

// RunEnv is Run with extra "KEY=value" environment entries appended to the
// daemon's environment.
func (r ExecRunner) RunEnv(ctx context.Context, argv, env []string, timeout time.Duration, user string) (int, error) {
	if len(argv) == 0 {
		return -1, ErrEmptyCommand
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// stdin/stdout/stderr stay nil (/dev/null), so Wait returns when the
	// script exits even if a background child keeps running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if user != "" {
		cred, err := credential(user)
		if err != nil {
			return -1, err
		}
		cmd.SysProcAttr.Credential = cred
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start %s: %w", argv[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case err := <-done:
		return exitStatus(err)
	case <-expired:
		r.killGroup(cmd.Process.Pid, done)
		return -1, fmt.Errorf("%s: %w after %v", argv[0], ErrTimedOut, timeout)
	case <-ctx.Done():
		r.killGroup(cmd.Process.Pid, done)
		return -1, fmt.Errorf("%s: %w", argv[0], ctx.Err())
	}
}

// killGroup sends SIGTERM to the group, waits up to Grace for the leader,
// then SIGKILLs whatever is left of the group (also children that ignored
// SIGTERM after their parent exited) and reaps the leader.
func (r ExecRunner) killGroup(pgid int, done <-chan error) {
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	exited := false
	select {
	case <-done:
		exited = true
	case <-t.C:
	}
	// ESRCH just means the whole group is gone already.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if !exited {
		<-done
	}
}

func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1, fmt.Errorf("killed by signal %v", ws.Signal())
		}
		return ee.ExitCode(), nil
	}
	return -1, err
}

// credential resolves "user" or "user:group" (script_user USER GROUP): the
// group, when given, replaces the user's primary group.
func credential(name string) (*syscall.Credential, error) {
	name, group, _ := strings.Cut(name, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("script user %q: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script user %q uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script user %q gid %q: %w", name, u.Gid, err)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("script group %q: %w", group, err)
		}
		if gid, err = strconv.ParseUint(g.Gid, 10, 32); err != nil {
			return nil, fmt.Errorf("script group %q gid %q: %w", group, g.Gid, err)
		}
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, nil
}
