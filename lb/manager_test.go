package lb

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lb/check"
	"github.com/vipd/vipd/lb/dataplane"
	"github.com/vipd/vipd/vrrp/track"
)

// fakePlane records what the manager applies.
type fakePlane struct {
	mu      sync.Mutex
	last    dataplane.State
	applies int
	removed bool
	fail    error // Apply returns it (and takes nothing) while set
	changed chan struct{}
}

func newFakePlane() *fakePlane { return &fakePlane{changed: make(chan struct{}, 100)} }

func (f *fakePlane) Name() string { return "fake" }
func (f *fakePlane) Apply(st dataplane.State) error {
	f.mu.Lock()
	if f.fail != nil {
		f.mu.Unlock()
		return f.fail
	}
	f.last, f.removed = st, false
	f.applies++
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return nil
}
func (f *fakePlane) Remove() error { f.mu.Lock(); f.removed = true; f.mu.Unlock(); return nil }

// backends returns "addr:port=weight" of the one service.
func (f *fakePlane) backends() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.last.Services {
		for _, b := range s.Backends {
			out = append(out, netip.AddrPortFrom(b.Addr, b.Port).String()+"="+itoa(b.Weight))
		}
		if s.Sorry != nil {
			out = append(out, "sorry "+netip.AddrPortFrom(s.Sorry.Addr, s.Sorry.Port).String())
		}
	}
	return out
}

func itoa(i int) string { return string(rune('0' + i)) }

// switchProber answers from a shared table the test flips.
type switchProber struct {
	mu *sync.Mutex
	up map[netip.AddrPort]bool
	rs netip.AddrPort
}

func (p switchProber) Probe(context.Context) check.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.up[p.rs] {
		return check.Result{OK: true, Detail: "connected", Weight: -1}
	}
	return check.Result{Detail: "connect refused", Weight: -1}
}

// recRunner records the scripts run.
type recRunner struct {
	mu  sync.Mutex
	ran []string
}

func (r *recRunner) Run(_ context.Context, argv []string, _ time.Duration, _ string) (int, error) {
	r.mu.Lock()
	r.ran = append(r.ran, argv[0])
	r.mu.Unlock()
	return 0, nil
}
func (r *recRunner) RunEnv(ctx context.Context, argv, _ []string, t time.Duration, u string) (int, error) {
	return r.Run(ctx, argv, t, u)
}
func (r *recRunner) scripts() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.ran) }

// TestManager runs real checkers (fast delay_loop) against switchable
// probes: a real server going down leaves the applied state, comes back,
// the quorum switches to the sorry server, omega runs the scripts at exit
// and the plane is cleaned up.
func TestManager(t *testing.T) {
	cfg := parse(t, `
virtual_server 10.0.0.1 80 {
    delay_loop 0.02
    lb_algo rr
    quorum 2
    omega
    quorum_down /bin/qdown
    sorry_server 10.0.0.99 80
    real_server 10.0.0.2 80 {
        notify_down /bin/down2
        TCP_CHECK {
            retry 1
            delay_before_retry 0.01
        }
    }
    real_server 10.0.0.3 80 {
        TCP_CHECK {
            retry 0
        }
    }
}
`)
	var mu sync.Mutex
	up := map[netip.AddrPort]bool{netip.MustParseAddrPort("10.0.0.2:80"): true, netip.MustParseAddrPort("10.0.0.3:80"): true}
	set := func(rs string, v bool) { mu.Lock(); up[netip.MustParseAddrPort(rs)] = v; mu.Unlock() }
	plane := newFakePlane()
	run := &recRunner{}
	m, err := New(cfg, plane, Options{Runner: run, NewProber: func(_ *config.Checker, rs netip.AddrPort, _ track.Runner) (check.Prober, error) {
		return switchProber{mu: &mu, up: up, rs: rs}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor := func(what string, want []string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			if got := plane.backends(); slices.Equal(got, want) {
				return
			}
			select {
			case <-plane.changed:
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				t.Fatalf("%s: backends %v, want %v", what, plane.backends(), want)
			}
		}
	}
	waitFor("start", []string{"10.0.0.2:80=1", "10.0.0.3:80=1"})
	set("10.0.0.3:80", false)
	waitFor("quorum lost → sorry server", []string{"sorry 10.0.0.99:80"})
	set("10.0.0.3:80", true)
	waitFor("quorum back", []string{"10.0.0.2:80=1", "10.0.0.3:80=1"})
	set("10.0.0.2:80", false)
	waitFor(".2 down, again sorry", []string{"sorry 10.0.0.99:80"})
	set("10.0.0.2:80", true)
	waitFor(".2 back", []string{"10.0.0.2:80=1", "10.0.0.3:80=1"})
	if m.Status().Pending {
		t.Errorf("status pending after the kernel took every change")
	}
	// A change the kernel refuses shows as pending until an Apply lands.
	plane.mu.Lock()
	plane.fail = errors.New("netlink: busy")
	plane.mu.Unlock()
	set("10.0.0.3:80", false)
	deadline := time.Now().Add(10 * time.Second)
	for !m.Status().Pending {
		if time.Now().After(deadline) {
			t.Fatalf("a refused Apply never showed as pending: %+v", m.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	plane.mu.Lock()
	plane.fail = nil
	plane.mu.Unlock()
	set("10.0.0.3:80", true)
	waitFor(".3 back after the refusal", []string{"10.0.0.2:80=1", "10.0.0.3:80=1"})
	for deadline := time.Now().Add(10 * time.Second); m.Status().Pending; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still pending after the kernel took the state: %+v", m.Status())
		}
	}

	st := m.Status()
	if len(st.VirtualServers) != 1 || !st.VirtualServers[0].Quorum || len(st.VirtualServers[0].RealServers) != 2 ||
		st.VirtualServers[0].RealServers[0].Checkers[0].Kind != config.CheckTCP {
		t.Errorf("status: %+v", st)
	}
	if got := len(m.Checks()); got != 2 {
		t.Errorf("Checks: %d entries, want 2", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	plane.mu.Lock()
	removed := plane.removed
	plane.mu.Unlock()
	if !removed {
		t.Error("plane not removed at exit")
	}
	got := run.scripts()
	// quorum_down twice during the run, .2's notify_down once, and omega
	// at exit: notify_down of .2 (alive) and quorum_down.
	for _, want := range []string{"/bin/qdown", "/bin/down2"} {
		if !slices.Contains(got, want) {
			t.Errorf("scripts %v: %s never ran", got, want)
		}
	}
	if n := len(got); n < 5 {
		t.Errorf("scripts %v: want at least 5 runs (2 quorum_down, 1 notify_down, omega's 2)", got)
	}
}

// validatingPlane refuses DR, as the nftables plane without DR would.
type validatingPlane struct{ *fakePlane }

func (validatingPlane) Validate(s dataplane.Service) error {
	if s.Kind == "DR" {
		return errors.New("lb_kind DR is not supported")
	}
	return nil
}

func TestManagerRefusesWhatThePlaneCannotRun(t *testing.T) {
	cfg := parse(t, "virtual_server 10.0.0.1 80 {\n    lb_kind DR\n    real_server 10.0.0.2 80 {\n    }\n}\n")
	_, err := New(cfg, validatingPlane{newFakePlane()}, Options{})
	want := "t.conf:1: virtual_server 10.0.0.1:80/TCP: fake data plane: lb_kind DR is not supported"
	if err == nil || err.Error() != want {
		t.Errorf("New error = %v, want %q", err, want)
	}
}

// TestManagerFileCheck: FILE_CHECK reads its track file before the first
// table (keepalived sets file checkers before programming IPVS, alpha or
// not), then follows the file: weight 0 takes a server down on a non-zero
// value; a weight adds value×weight to the server's weight.
func TestManagerFileCheck(t *testing.T) {
	dir := t.TempDir()
	drain, scale := filepath.Join(dir, "drain"), filepath.Join(dir, "scale")
	write := func(path, v string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(drain, "1")
	write(scale, "3")
	cfg := parse(t, `
vrrp_track_file drain {
    file `+drain+`
}
vrrp_track_file scale {
    file `+scale+`
    weight 2
}
virtual_server 10.0.0.1 80 {
    alpha
    real_server 10.0.0.2 80 {
        FILE_CHECK {
            track_file drain
            weight 0
        }
    }
    real_server 10.0.0.3 80 {
        FILE_CHECK {
            track_file scale
        }
    }
}
`)
	plane := newFakePlane()
	m, err := New(cfg, plane, Options{Runner: &recRunner{}})
	if err != nil {
		t.Fatal(err)
	}
	var first []string
	for _, b := range m.Desired().Services[0].Backends {
		first = append(first, netip.AddrPortFrom(b.Addr, b.Port).String()+"="+itoa(b.Weight))
	}
	if want := []string{"10.0.0.3:80=7"}; !slices.Equal(first, want) {
		t.Fatalf("first table %v, want %v", first, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor := func(what string, want []string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for !slices.Equal(plane.backends(), want) {
			select {
			case <-plane.changed:
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				t.Fatalf("%s: backends %v, want %v", what, plane.backends(), want)
			}
		}
	}
	waitFor("start", []string{"10.0.0.3:80=7"})
	write(drain, "0")
	write(scale, "-1")
	waitFor("drain cleared, scale lowered", []string{"10.0.0.2:80=1", "10.0.0.3:80=0"})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestManagerRefusesUnbuildableChecker: a checker that cannot be built
// (here an SSL_GET whose certificate file is missing) fails New with its
// file:line, rather than leaving its real server up and unchecked.
func TestManagerRefusesUnbuildableChecker(t *testing.T) {
	cfg := parse(t, `
SSL {
    certificate /nonexistent/cert.pem
    key /nonexistent/key.pem
}
virtual_server 10.0.0.1 443 {
    real_server 10.0.0.2 443 {
        SSL_GET {
            url {
                path /
            }
        }
    }
}
`)
	_, err := New(cfg, newFakePlane(), Options{Runner: &recRunner{}})
	if err == nil || !strings.HasPrefix(err.Error(), "t.conf:8: SSL_GET on real_server 10.0.0.2:443: SSL certificate: open /nonexistent/cert.pem") {
		t.Errorf("err = %v", err)
	}
}
