package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/vrrp/track"
)

// recorder writes a script that appends one line per run to out: its
// arguments joined by "|", then the VIPD_TOKEN environment variable.
func recorder(t *testing.T, dir, out string) string {
	t.Helper()
	p := filepath.Join(dir, "rec.sh")
	body := "#!/bin/sh\n{ printf '%s' \"$1\"; shift; for a in \"$@\"; do printf '|%s' \"$a\"; done; printf ' token=%s\\n' \"$VIPD_TOKEN\"; } >> " + out + "\n"
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func closeOK(t *testing.T, n *Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
}

func TestNotifyArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	rec := recorder(t, dir, out)
	// Scripts run as "/bin/sh rec.sh ..." so no exec of a freshly written
	// file can hit ETXTBSY.
	sh := "/bin/sh " + rec
	scripts := Scripts{
		Master:  sh + ` master "two words"`,
		Backup:  sh + " backup",
		Fault:   sh + " fault",
		Stop:    sh + " stop",
		Generic: sh + " generic 'x y'",
	}
	tests := []struct {
		name    string
		scripts Scripts
		ev      Event
		want    string
	}{
		{"master", scripts, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 100},
			"master|two words token=\ngeneric|x y|INSTANCE|VI_1|MASTER|100 token=\n"},
		{"backup", scripts, Event{Type: TypeInstance, Name: "VI_1", State: StateBackup, Priority: 90},
			"backup token=\ngeneric|x y|INSTANCE|VI_1|BACKUP|90 token=\n"},
		{"fault", scripts, Event{Type: TypeInstance, Name: "VI_1", State: StateFault, Priority: 0},
			"fault token=\ngeneric|x y|INSTANCE|VI_1|FAULT|0 token=\n"},
		{"stop", scripts, Event{Type: TypeInstance, Name: "VI_1", State: StateStop, Priority: 100},
			"stop token=\ngeneric|x y|INSTANCE|VI_1|STOP|100 token=\n"},
		{"deleted: generic only", scripts, Event{Type: TypeInstance, Name: "VI_1", State: StateDeleted, Priority: 100},
			"generic|x y|INSTANCE|VI_1|DELETED|100 token=\n"},
		{"group", scripts, Event{Type: TypeGroup, Name: "G1", State: StateBackup},
			"backup token=\ngeneric|x y|GROUP|G1|BACKUP|0 token=\n"},
		{"generic without own arguments gets $1..$4", Scripts{Generic: sh},
			Event{Type: TypeInstance, Name: "VI_2", State: StateMaster, Priority: 254},
			"INSTANCE|VI_2|MASTER|254 token=\n"},
		{"specific only", Scripts{Master: sh + " m"}, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 1},
			"m token=\n"},
		{"extra environment", Scripts{Master: sh + " m"},
			Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 1, Env: map[string]string{"VIPD_TOKEN": "42"}},
			"m token=42\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(out)
			n := New(nil, nil, 5*time.Second)
			n.Notify(tt.scripts, tt.ev)
			closeOK(t, n)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("script arguments mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

type runCall struct {
	argv    []string
	timeout time.Duration
}

// fakeRunner records calls; if gate is set, every call waits for it.
type fakeRunner struct {
	mu    sync.Mutex
	calls []runCall
	gate  chan struct{}
	code  int
	err   error
	ctxs  chan error // receives ctx.Err() of gated calls that were cancelled
	// started, if set, receives one value per call as it starts.
	started chan struct{}
}

func (f *fakeRunner) RunEnv(ctx context.Context, argv, env []string, timeout time.Duration, user string) (int, error) {
	f.mu.Lock()
	f.calls = append(f.calls, runCall{argv: argv, timeout: timeout})
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			if f.ctxs != nil {
				f.ctxs <- ctx.Err()
			}
			return -1, ctx.Err()
		}
	}
	return f.code, f.err
}

func TestNotifyOrderPerInstance(t *testing.T) {
	run := &fakeRunner{}
	n := New(nil, run, time.Second)
	const instances, events = 5, 200
	states := []string{StateMaster, StateBackup, StateFault}
	for i := range events {
		for in := range instances {
			n.Notify(Scripts{Generic: "notify"}, Event{Type: TypeInstance, Name: fmt.Sprint("VI_", in),
				State: states[i%len(states)], Priority: i})
		}
	}
	closeOK(t, n)
	next := map[string]int{}
	for _, c := range run.calls {
		// argv: notify TYPE NAME STATE PRIORITY
		name, prio := c.argv[2], c.argv[4]
		p, err := strconv.Atoi(prio)
		if err != nil {
			t.Fatal(err)
		}
		if p != next[name] {
			t.Fatalf("%s: got event %d, want %d (out of order)", name, p, next[name])
		}
		if want := states[p%len(states)]; c.argv[3] != want {
			t.Errorf("%s event %d: state %s, want %s", name, p, c.argv[3], want)
		}
		next[name]++
	}
	for in := range instances {
		if got := next[fmt.Sprint("VI_", in)]; got != events {
			t.Errorf("VI_%d: %d events ran, want %d", in, got, events)
		}
	}
}

func TestNotifySpecificBeforeGeneric(t *testing.T) {
	run := &fakeRunner{}
	n := New(nil, run, 3*time.Second)
	n.Notify(Scripts{Master: "m", Stop: "s", Generic: "g"}, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 7})
	n.Notify(Scripts{Master: "m", Stop: "s", Generic: "g"}, Event{Type: TypeInstance, Name: "VI_1", State: StateStop, Priority: 7})
	closeOK(t, n)
	want := []runCall{
		{argv: []string{"m"}, timeout: 3 * time.Second},
		{argv: []string{"g", "INSTANCE", "VI_1", "MASTER", "7"}, timeout: 3 * time.Second},
		{argv: []string{"s"}, timeout: StopTimeout}, // notify_stop: 1 s like keepalived
		{argv: []string{"g", "INSTANCE", "VI_1", "STOP", "7"}, timeout: StopTimeout},
	}
	if diff := cmp.Diff(want, run.calls, cmp.AllowUnexported(runCall{})); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

func TestNotifyDoesNotBlock(t *testing.T) {
	run := &fakeRunner{gate: make(chan struct{})}
	n := New(nil, run, time.Minute)
	returned := make(chan struct{})
	go func() {
		for i := range 10 {
			n.Notify(Scripts{Master: "slow"}, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: i})
		}
		close(returned)
	}()
	// The runner is blocked until the gate opens; Notify must return anyway.
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked while a script was running")
	}
	close(run.gate)
	closeOK(t, n)
	if len(run.calls) != 10 {
		t.Errorf("%d scripts ran, want 10", len(run.calls))
	}
}

func TestNotifyCloseBoundedByContext(t *testing.T) {
	run := &fakeRunner{gate: make(chan struct{}), ctxs: make(chan error, 1), started: make(chan struct{}, 10)}
	n := New(nil, run, time.Minute)
	for i := range 3 {
		n.Notify(Scripts{Master: "hang"}, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: i})
	}
	<-run.started // the first script is running, two are queued
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Close(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(cancelled ctx) = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "2 queued events dropped") {
		t.Errorf("Close() = %v, want it to report the 2 dropped events", err)
	}
	// The running script is killed through its context.
	select {
	case err := <-run.ctxs:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("script context error = %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("running script was not cancelled")
	}
	n.Notify(Scripts{Master: "late"}, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster})
	// Wait for the worker to finish, then check that neither the dropped
	// events nor the late one ran.
	n.wg.Wait()
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(run.calls) != 1 {
		t.Errorf("%d scripts ran, want only the one that was running: %v", len(run.calls), run.calls)
	}
}

func TestNotifyLogsFailure(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	n := New(log, &fakeRunner{code: 3}, time.Second)
	n.Notify(Scripts{Fault: "/bin/fault"}, Event{Type: TypeInstance, Name: "VI_1", State: StateFault})
	n.Notify(Scripts{Fault: `"unterminated`}, Event{Type: TypeInstance, Name: "VI_1", State: StateFault})
	closeOK(t, n)
	mu.Lock()
	got := buf.String()
	mu.Unlock()
	for _, want := range []string{`msg="notify script failed"`, "exit=3", "script=/bin/fault", "name=VI_1", "state=FAULT",
		`msg="notify script not runnable"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNotifyTimeoutKillsScript(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	p := filepath.Join(dir, "slow.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nsleep 30 & echo $! > "+pidFile+"\nwait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := New(nil, track.ExecRunner{Grace: 100 * time.Millisecond}, 300*time.Millisecond)
	start := time.Now()
	n.Notify(Scripts{Master: "/bin/sh " + p}, Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 100})
	closeOK(t, n)
	t.Logf("script killed and Close returned after %v", time.Since(start))
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("script never wrote its child's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Bounded wait for the grandchild's exit through a pidfd.
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	defer unix.Close(fd)
	for {
		nfd, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if nfd == 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("the script's child %d survived the timeout", pid)
		}
		return
	}
}
