package track

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// fakeProc writes a /proc tree: one directory per process with stat and
// cmdline as the kernel writes them.
func fakeProc(t *testing.T, procs ...[]string) string {
	t.Helper()
	dir := t.TempDir()
	for i, argv := range procs {
		state := "S"
		comm := filepath.Base(argv[0])
		if strings.HasPrefix(comm, "zombie:") {
			comm, state = strings.TrimPrefix(comm, "zombie:"), "Z"
		}
		if len(comm) > 15 {
			comm = comm[:15]
		}
		pd := filepath.Join(dir, strconv.Itoa(100+i))
		if err := os.Mkdir(pd, 0o755); err != nil {
			t.Fatal(err)
		}
		stat := strconv.Itoa(100+i) + " (" + comm + ") " + state + " 1 1 1\n"
		if err := os.WriteFile(filepath.Join(pd, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pd, "cmdline"), []byte(strings.Join(argv, "\x00")+"\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "self"), 0o755); err != nil { // not a pid
		t.Fatal(err)
	}
	return dir
}

// keepalived's matching rules (read_procs, check_params).
func TestProcessMatching(t *testing.T) {
	proc := fakeProc(t,
		[]string{"/usr/sbin/nginx", "-g", "daemon off;"},
		[]string{"/usr/sbin/nginx", "-g", "daemon on;"},
		[]string{"/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg", "-p", "/run/haproxy.pid"},
		[]string{"/usr/bin/zombie:nginx"},
		[]string{"/usr/lib/a-very-long-process-name"},
	)
	tests := []struct {
		name string
		cfg  ProcessConfig
		want int
	}{
		{"comm", ProcessConfig{Process: "nginx"}, 2},
		{"comm is 15 characters", ProcessConfig{Process: "a-very-long-pro"}, 1},
		{"zombies do not count", ProcessConfig{Process: "zombie:nginx"}, 0},
		{"full command needs argv[0] exactly", ProcessConfig{Process: "nginx", FullCommand: true}, 0},
		{"full command", ProcessConfig{Process: "/usr/sbin/nginx", FullCommand: true}, 2},
		{"exact params", ProcessConfig{Process: "/usr/sbin/nginx", FullCommand: true, Params: []string{"-g", "daemon off;"}, ParamMatch: ParamMatchExact}, 1},
		{"exact without params wants none", ProcessConfig{Process: "/usr/sbin/nginx", FullCommand: true, ParamMatch: ParamMatchExact}, 0},
		{"partial: leading whole arguments", ProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, Params: []string{"-f", "/etc/haproxy/haproxy.cfg"}, ParamMatch: ParamMatchPartial}, 1},
		{"partial: not a prefix of an argument", ProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, Params: []string{"-f", "/etc/haproxy"}, ParamMatch: ParamMatchPartial}, 0},
		{"initial: the last argument may be cut", ProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, Params: []string{"-f", "/etc/haproxy"}, ParamMatch: ParamMatchInitial}, 1},
		{"initial: the earlier ones are whole", ProcessConfig{Process: "/usr/sbin/haproxy", FullCommand: true, Params: []string{"-", "/etc/haproxy"}, ParamMatch: ParamMatchInitial}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Proc = proc
			if got := NewProcess(tt.cfg, clock.Real()).Count(); got != tt.want {
				t.Errorf("Count() = %d, want %d", got, tt.want)
			}
		})
	}
}

// The verdict follows the quorum, and a change is reported only once it
// has lasted fork_delay (rising) or terminate_delay (falling).
func TestProcessQuorumAndDelays(t *testing.T) {
	up := fakeProc(t, []string{"/usr/sbin/nginx"}, []string{"/usr/sbin/nginx"})
	down := fakeProc(t, []string{"/usr/sbin/nginx"})
	clk := clock.NewFake(time.Unix(0, 0))
	cfg := ProcessConfig{Name: "web", Process: "nginx", Quorum: 2, QuorumMax: 3,
		ForkDelay: 2 * time.Second, TerminateDelay: 3 * time.Second, Poll: time.Second, Proc: up}
	p := NewProcess(cfg, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Status, 8)
	done := make(chan error)
	go func() { done <- p.Run(ctx, out) }()
	if st := <-out; !st.Known || !st.OK || st.Value != 2 {
		t.Fatalf("first status %+v, want up with 2 processes", st)
	}
	step := func() {
		t.Helper()
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	p.cfg.Proc = down // one nginx exits: below quorum
	for range 2 {
		step()
	}
	select {
	case st := <-out:
		t.Fatalf("reported %+v before terminate_delay passed", st)
	default:
	}
	step()
	step() // the poll after the delay ran out reports
	if st := <-out; st.OK || st.Value != 1 {
		t.Fatalf("status %+v, want down with 1 process", st)
	}
	p.cfg.Proc = up
	step()
	step()
	step()
	if st := <-out; !st.OK {
		t.Fatalf("status %+v, want up again after fork_delay", st)
	}
	cancel()
	<-done
}

// A real process: killing it is seen.
func TestProcessReal(t *testing.T) {
	cmd := exec.Command("/bin/sleep", "987.654")
	if err := cmd.Start(); err != nil {
		t.Skip("cannot start sleep:", err)
	}
	defer cmd.Wait()
	p := NewProcess(ProcessConfig{Process: "/bin/sleep", FullCommand: true, Params: []string{"987.654"}, ParamMatch: ParamMatchExact, Quorum: 1, QuorumMax: 1}, clock.Real())
	if n := p.Count(); n != 1 {
		t.Errorf("Count() = %d with the process running, want 1", n)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n := p.Count(); n != 0 {
		t.Errorf("Count() = %d after kill, want 0", n)
	}
}
