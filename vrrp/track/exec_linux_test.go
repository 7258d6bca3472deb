package track

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// writeScript writes a shell script into dir. Tests run it as
// "/bin/sh path" so that no exec of a just-written file can hit ETXTBSY.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecRunnerExit(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr bool
	}{
		{name: "exit 0", body: "exit 0", want: 0},
		{name: "exit 1", body: "exit 1", want: 1},
		{name: "exit 42", body: "exit 42", want: 42},
		{name: "killed by signal", body: "kill -KILL $$", want: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeScript(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".sh", tt.body)
			code, err := ExecRunner{}.Run(context.Background(), []string{"/bin/sh", p}, 5*time.Second, "")
			if code != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Run() = %d, %v; want %d, error %v", code, err, tt.want, tt.wantErr)
			}
		})
	}
	t.Run("missing binary", func(t *testing.T) {
		code, err := ExecRunner{}.Run(context.Background(), []string{filepath.Join(dir, "nope")}, time.Second, "")
		if err == nil || code != -1 {
			t.Errorf("Run(missing) = %d, %v; want -1 and an error", code, err)
		}
	})
}

func TestExecRunnerArgvAndEnv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	p := writeScript(t, dir, "args.sh", `for a in "$@"; do printf '[%s]\n' "$a"; done > "$OUT"; printf 'env=%s\n' "$EXTRA" >> "$OUT"`)
	argv, err := SplitCommand(`/bin/sh ` + p + ` one "two words" 'it''s' a\ b "$HOME" *`)
	if err != nil {
		t.Fatal(err)
	}
	code, err := ExecRunner{}.RunEnv(context.Background(), argv, []string{"OUT=" + out, "EXTRA=x y"}, 5*time.Second, "")
	if code != 0 || err != nil {
		t.Fatalf("RunEnv() = %d, %v; want 0, nil", code, err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// No shell between config and exec: $HOME and * arrive literally.
	want := "[one]\n[two words]\n[its]\n[a b]\n[$HOME]\n[*]\nenv=x y\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("arguments mismatch (-want +got):\n%s", diff)
	}
}

func TestExecRunnerTimeoutKillsGroup(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		// The grandchild would outlive the script if only the script died.
		{name: "sleeping", body: `sleep 30 & echo $! > "$1"; wait`},
		// TERM is ignored by script and grandchild: only SIGKILL ends them.
		{name: "ignores SIGTERM", body: `trap '' TERM; sleep 30 & echo $! > "$1"; while :; do wait; done`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "pid")
			p := writeScript(t, dir, "slow.sh", tt.body)
			start := time.Now()
			code, err := ExecRunner{Grace: 100 * time.Millisecond}.Run(context.Background(),
				[]string{"/bin/sh", p, pidFile}, 500*time.Millisecond, "")
			elapsed := time.Since(start)
			t.Logf("Run returned after %v", elapsed)
			if !errors.Is(err, ErrTimedOut) || code != -1 {
				t.Fatalf("Run() = %d, %v; want -1, ErrTimedOut", code, err)
			}
			if elapsed > 10*time.Second {
				t.Errorf("Run took %v, the 30 s sleep was not cut short", elapsed)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("script never wrote the grandchild's pid: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
		})
	}
}

// waitGone waits (bounded) for pid to terminate, using a pidfd, which
// works for processes that are not our children.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // already gone and reaped
	}
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 5000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		if n == 0 {
			_ = unix.Kill(pid, unix.SIGKILL) // don't leak it past the test
			t.Fatalf("grandchild %d still alive 5 s after the timeout", pid)
		}
		return
	}
}

func TestExecRunnerContextCancelKills(t *testing.T) {
	dir := t.TempDir()
	p := writeScript(t, dir, "slow.sh", "sleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, err := ExecRunner{Grace: 100 * time.Millisecond}.Run(ctx, []string{"/bin/sh", p}, 0, "")
	if !errors.Is(err, context.Canceled) || code != -1 {
		t.Errorf("Run(cancelled) = %d, %v; want -1, context.Canceled", code, err)
	}
}

func TestExecRunnerUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	code, err := ExecRunner{}.Run(context.Background(),
		[]string{"/bin/sh", "-c", `[ "$(id -u)" = "` + u.Uid + `" ]`}, 5*time.Second, "nobody")
	if code != 0 || err != nil {
		t.Errorf("Run as nobody = %d, %v; want 0 (id -u = %s)", code, err, u.Uid)
	}
	if _, err := (ExecRunner{}).Run(context.Background(), []string{"/bin/true"}, time.Second, "no-such-user-vipd"); err == nil {
		t.Error("Run as a missing user = nil error, want error")
	}
}
