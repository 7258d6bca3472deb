package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var abstractN atomic.Int64

// listen opens a unixgram socket like systemd's notify socket and points
// NOTIFY_SOCKET at it. abstract picks an @name instead of a path.
func listen(t *testing.T, abstract bool) *net.UnixConn {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = fmt.Sprintf("@vipd-sdnotify-test-%d-%d", os.Getpid(), abstractN.Add(1))
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %q: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv(envSocket, name)
	return c
}

// recv returns the datagrams already queued on c. Sends are synchronous, so
// everything a finished call sent is queued; the deadline only ends the read.
func recv(t *testing.T, c *net.UnixConn) []string {
	t.Helper()
	var got []string
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got
			}
			t.Fatalf("read: %v", err)
		}
		got = append(got, string(buf[:n]))
	}
}

func TestMessages(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		for _, tc := range []struct {
			name string
			call func() error
			want string
		}{
			{"Ready", Ready, "READY=1"},
			{"Stopping", Stopping, "STOPPING=1"},
			{"Watchdog", Watchdog, "WATCHDOG=1"},
			{"Notify", func() error { return Notify("STATUS=3 instances\nREADY=1") }, "STATUS=3 instances\nREADY=1"},
		} {
			t.Run(fmt.Sprintf("%s/abstract=%v", tc.name, abstract), func(t *testing.T) {
				c := listen(t, abstract)
				if err := tc.call(); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if diff := cmp.Diff([]string{tc.want}, recv(t, c)); diff != "" {
					t.Errorf("datagrams (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestReloadingCarriesMonotonicTime(t *testing.T) {
	c := listen(t, false)
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	got := recv(t, c)
	if len(got) != 1 {
		t.Fatalf("got %d datagrams %q, want 1", len(got), got)
	}
	lines := strings.Split(got[0], "\n")
	if lines[0] != "RELOADING=1" {
		t.Errorf("first line %q, want RELOADING=1", lines[0])
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], fieldMonotonicUs) {
		t.Fatalf("message %q: want a second line %s<usec>", got[0], fieldMonotonicUs)
	}
	us, err := strconv.ParseInt(strings.TrimPrefix(lines[1], fieldMonotonicUs), 10, 64)
	if err != nil || us <= 0 {
		t.Errorf("MONOTONIC_USEC %q: want a positive integer (%v)", lines[1], err)
	}
}

func TestWithoutSystemd(t *testing.T) {
	t.Setenv(envSocket, "")
	for name, f := range map[string]func() error{"Ready": Ready, "Reloading": Reloading, "Stopping": Stopping, "Watchdog": Watchdog} {
		if err := f(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET: %v, want nil (not run by systemd)", name, err)
		}
	}
}

func TestSendErrors(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		want       error
	}{
		{"vsock is not supported", "vsock:2:1234", errUnsupported},
		{"relative path", "notify.sock", errUnsupported},
		{"no listener", filepath.Join(t.TempDir(), "gone.sock"), os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envSocket, tc.addr)
			err := Ready()
			if !errors.Is(err, tc.want) {
				t.Errorf("Ready() with NOTIFY_SOCKET=%q: %v, want an error wrapping %v", tc.addr, err, tc.want)
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	type result struct {
		D  time.Duration
		OK bool
	}
	for _, tc := range []struct {
		name, usec, pid string
		want            result
	}{
		{"unset", "", "", result{}},
		{"10s, no pid", "10000000", "", result{10 * time.Second, true}},
		{"ours", "5000000", "42", result{5 * time.Second, true}},
		{"inherited by a child", "5000000", "41", result{}},
		{"zero is off", "0", "", result{}},
		{"garbage", "10s", "", result{}},
		{"negative", "-5", "", result{}},
		{"bad pid", "5000000", "x", result{}},
		{"overflows a Duration", "18446744073709551615", "", result{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := watchdogInterval(tc.usec, tc.pid, 42)
			if diff := cmp.Diff(tc.want, result{d, ok}); diff != "" {
				t.Errorf("watchdogInterval(%q, %q) (-want +got):\n%s", tc.usec, tc.pid, diff)
			}
		})
	}
	t.Run("from the environment", func(t *testing.T) {
		t.Setenv(envWatchdogUsec, "2500000")
		t.Setenv(envWatchdogPID, strconv.Itoa(os.Getpid()))
		d, ok := WatchdogInterval()
		if diff := cmp.Diff(result{2500 * time.Millisecond, true}, result{d, ok}); diff != "" {
			t.Errorf("WatchdogInterval() (-want +got):\n%s", diff)
		}
	})
}

func TestKeepAlive(t *testing.T) {
	c := listen(t, false)
	// One tick per check result: a failing check must send nothing.
	checks := []error{nil, errors.New("engine does not answer"), nil, nil}
	tick := make(chan time.Time)
	calls := 0
	healthy := func(context.Context) error { calls++; return checks[calls-1] }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- KeepAlive(ctx, tick, healthy) }()
	for range checks {
		tick <- time.Time{}
	}
	// The unbuffered send returns once KeepAlive took the last tick; it
	// finishes that tick before it can see the cancellation.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("KeepAlive: %v", err)
	}
	if calls != len(checks) {
		t.Errorf("healthy called %d times, want %d", calls, len(checks))
	}
	if diff := cmp.Diff([]string{"WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"}, recv(t, c)); diff != "" {
		t.Errorf("keep-alives (-want +got):\n%s", diff)
	}
}

func TestKeepAliveStopsWhenSystemdIsGone(t *testing.T) {
	t.Setenv(envSocket, filepath.Join(t.TempDir(), "gone.sock"))
	tick := make(chan time.Time, 1)
	tick <- time.Time{}
	err := KeepAlive(context.Background(), tick, func(context.Context) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("KeepAlive with a missing socket: %v, want an error wrapping %v", err, os.ErrNotExist)
	}
}
