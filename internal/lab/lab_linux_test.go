package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLabUp(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		ipv6 bool
	}{
		{"ipv4", false},
		{"ipv6", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			l := ForTest(t, Options{Nodes: 3, IPv6: tc.ipv6})
			t.Logf("lab %s up in %v", l.Name, time.Since(start))

			var names []string
			for _, h := range l.Hosts() {
				names = append(names, h.Name)
				if len(h.NS) > 15 {
					t.Errorf("namespace name %q longer than 15", h.NS)
				}
			}
			if diff := cmp.Diff([]string{"n1", "n2", "n3", "gw", "client"}, names); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
			listed := netnsList(t)
			for _, ns := range append([]string{l.Switch}, nsNames(l)...) {
				if !listed[ns] {
					t.Errorf("namespace %s not in ip netns list", ns)
				}
			}
			for _, tc := range []struct {
				h    *Host
				want string
			}{
				{l.GW, l.Addr4(1).String()}, {l.Nodes[0], l.Addr4(11).String()},
				{l.Nodes[2], l.Addr4(13).String()}, {l.Client, l.Addr4(100).String()},
			} {
				if got := tc.h.Addr4.String(); got != tc.want {
					t.Errorf("%s Addr4 = %s, want %s", tc.h.Name, got, tc.want)
				}
			}

			for _, from := range l.Hosts() {
				for _, to := range l.Hosts() {
					if from == to {
						continue
					}
					mustReach(t, from, to.Addr4)
					if tc.ipv6 {
						mustReach(t, from, to.Addr6)
					}
				}
			}
			if tc.ipv6 {
				x := l.Net4.Addr().As4()[2]
				if got, want := l.Nodes[1].Addr6.String(), fmt.Sprintf("fd00:99:%d::12", x); got != want {
					t.Errorf("n2 Addr6 = %s, want %s", got, want)
				}
			}

			n1 := l.Nodes[0]
			out, err := n1.Exec(t.Context(), "ip", "-o", "addr", "show", "dev", "eth0")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), n1.LinkLocal.String()+"/64") {
				t.Errorf("eth0 lacks link-local %v:\n%s", n1.LinkLocal, out)
			}
			for _, tc := range []struct{ key, want string }{
				{"net/ipv6/conf/eth0/accept_dad", "0"},
				{"net/ipv4/conf/eth0/arp_ignore", "1"},
				{"net/ipv4/conf/eth0/arp_announce", "2"},
			} {
				out, err := n1.Exec(t.Context(), "cat", "/proc/sys/"+tc.key)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.TrimSpace(string(out)); got != tc.want {
					t.Errorf("%s = %s, want %s", tc.key, got, tc.want)
				}
			}
			out, err = exec.Command("ip", "-n", l.Switch, "-d", "link", "show", "br0").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "mcast_snooping 0") {
				t.Errorf("bridge: want mcast_snooping 0 (%v):\n%s", err, out)
			}
		})
	}
}

func nsNames(l *Lab) []string {
	var ns []string
	for _, h := range l.Hosts() {
		ns = append(ns, h.NS)
	}
	return ns
}

// nsInode is how /proc/PID/ns/net names the namespace ns.
func nsInode(t *testing.T, ns string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(netnsDir+"/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("net:[%d]", st.Ino)
}

func TestCloseRemovesEverything(t *testing.T) {
	requireRoot(t)
	l, err := New(t.Context(), Options{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	names := append([]string{l.Switch}, nsNames(l)...)
	p1, err := l.Nodes[0].Start([]string{"sh", "-c", "sleep 30 & echo $!; wait"}, nil, "")
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	var child int
	eventually(t, 5*time.Second, "child pid in log", func() bool {
		b, _ := os.ReadFile(p1.Log)
		child, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	// A process the lab did not start, left in a namespace.
	stray := exec.Command("ip", "netns", "exec", l.Client.NS, "sleep", "30")
	if err := stray.Start(); err != nil {
		l.Close()
		t.Fatal(err)
	}
	strayDone := make(chan error, 1)
	go func() { strayDone <- stray.Wait() }()
	clientNS := nsInode(t, l.Client.NS)
	eventually(t, 5*time.Second, "stray process inside the client namespace", func() bool {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", stray.Process.Pid))
		return link == clientNS
	})
	dir := l.Dir

	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	listed := netnsList(t)
	for _, n := range names {
		if listed[n] {
			t.Errorf("namespace %s still listed after Close", n)
		}
	}
	if !p1.Exited() {
		t.Errorf("started process %d still running", p1.Pid)
	}
	eventually(t, 5*time.Second, "child of started process killed", func() bool { return procGone(child) })
	select {
	case <-strayDone:
	case <-time.After(5 * time.Second):
		t.Errorf("stray process %d still running", stray.Process.Pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("log dir %s not removed: %v", dir, err)
	}
	if _, err := l.Nodes[0].Start([]string{"true"}, nil, ""); err == nil {
		t.Errorf("Start after Close succeeded")
	}
}

func TestNewFailsHalfway(t *testing.T) {
	requireRoot(t)
	defer func() { testHookAfterNS = nil }()
	// 3 nodes make 6 namespaces: sw, gw, n1, n2, n3, client.
	for _, failAt := range []int{1, 3, 6} {
		t.Run(fmt.Sprintf("namespace %d", failAt), func(t *testing.T) {
			var made []string
			testHookAfterNS = func(name string) error {
				made = append(made, name)
				if len(made) == failAt {
					return errors.New("injected failure")
				}
				return nil
			}
			l, err := New(t.Context(), Options{Nodes: 3})
			testHookAfterNS = nil
			if err == nil {
				l.Close()
				t.Fatal("New succeeded despite the injected failure")
			}
			if !strings.Contains(err.Error(), "injected failure") {
				t.Errorf("error %q does not carry the cause", err)
			}
			if len(made) != failAt {
				t.Fatalf("hook saw %v, want %d namespaces", made, failAt)
			}
			listed := netnsList(t)
			for _, n := range made {
				if listed[n] {
					t.Errorf("namespace %s left after failed New", n)
				}
			}
			// The standard descriptors survive the cleanup of half-open state.
			if _, err := os.Stdin.Stat(); err != nil {
				t.Errorf("stdin: %v", err)
			}
		})
	}
}

// TestCloseOnFailedTest runs a test that fails midway (in a child test
// binary) and checks that ForTest's cleanup still removed everything.
func TestCloseOnFailedTest(t *testing.T) {
	if os.Getenv("LAB_TEST_HELPER") == "fail" {
		l := ForTest(t, Options{Nodes: 2})
		p, err := l.Nodes[1].Start([]string{"sleep", "30"}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("LAB %s %d %s\n", l.Name, p.Pid, strings.Join(append([]string{l.Switch}, nsNames(l)...), " "))
		t.Fatal("failing on purpose, midway")
	}
	requireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCloseOnFailedTest$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "LAB_TEST_HELPER=fail")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child test: want a failure exit, got %v:\n%s", err, out)
	}
	var fields []string
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "LAB "); ok {
			fields = strings.Fields(rest)
		}
	}
	if len(fields) < 3 || !strings.Contains(string(out), "failing on purpose") {
		t.Fatalf("child output lacks the lab line or the failure:\n%s", out)
	}
	pid, _ := strconv.Atoi(fields[1])
	if !procGone(pid) {
		t.Errorf("process %d started by the failed test still runs", pid)
	}
	listed := netnsList(t)
	for _, n := range fields[2:] {
		if listed[n] {
			t.Errorf("namespace %s left by the failed test", n)
		}
	}
}

func TestSweep(t *testing.T) {
	requireRoot(t)
	id := strconv.FormatInt(int64(os.Getpid()), 36)

	// A named lab (as viplab makes) is swept whole.
	named, err := New(t.Context(), Options{Name: "ts" + id, Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { named.Close() })
	if _, err := New(t.Context(), Options{Name: "ts" + id, Nodes: 1}); err == nil {
		t.Errorf("second lab with the same Name succeeded")
	}
	got, err := Sweep("ts" + id)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{named.Switch}, nsNames(named)...)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sweep named (-want +got):\n%s", diff)
	}
	if err := named.Close(); err != nil {
		t.Errorf("Close after Sweep: %v", err)
	}

	// Generated names: a live lab is kept, a dead process's is removed,
	// and names outside the pattern are never touched.
	prefix := "tw" + id
	alive := ForTest(t, Options{Prefix: prefix, Nodes: 1})
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := prefix + "-" + genID(dead.Process.Pid, 0) + "-n1"
	other := prefix + "-x-n1"
	for _, n := range []string{stale, other} {
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", n, err, out)
		}
		t.Cleanup(func() { removeNS(n) })
	}
	got, err = Sweep(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{stale}, got); diff != "" {
		t.Errorf("Sweep generated (-want +got):\n%s", diff)
	}
	listed := netnsList(t)
	for _, n := range append([]string{other}, nsNames(alive)...) {
		if !listed[n] {
			t.Errorf("Sweep removed %s", n)
		}
	}
}

func TestProc(t *testing.T) {
	requireRoot(t)
	l := ForTest(t, Options{Nodes: 1})
	n1 := l.Nodes[0]

	t.Run("output and env", func(t *testing.T) {
		p, err := n1.Start([]string{"sh", "-c", "echo out $LAB_X; echo err >&2; exit 3"}, []string{"LAB_X=42"}, "")
		if err != nil {
			t.Fatal(err)
		}
		var ee *exec.ExitError
		if err := p.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("Wait = %v, want exit status 3", err)
		}
		b, err := os.ReadFile(p.Log)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff("out 42\nerr\n", string(b)); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
		if err := p.Kill(); err != nil {
			t.Errorf("Kill after exit: %v", err)
		}
	})

	t.Run("pid namespace and signals", func(t *testing.T) {
		p, err := n1.Start([]string{"sleep", "30"}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.Pid))
		if got := strings.TrimSpace(string(comm)); got != "sleep" {
			t.Errorf("pid %d is %q, want the program itself (sleep)", p.Pid, got)
		}
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if want := nsInode(t, n1.NS); link != want {
			t.Errorf("process netns %s, want %s (%s)", link, want, n1.NS)
		}
		if err := p.Pause(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "stopped", func() bool { return procState(p.Pid) == "T" })
		if err := p.Resume(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 2*time.Second, "running again", func() bool { return procState(p.Pid) == "S" || procState(p.Pid) == "R" })
		if p.Exited() {
			t.Fatal("exited early")
		}
		if err := p.Pause(); err != nil { // Stop must work on a paused process
			t.Fatal(err)
		}
		if err := p.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if !p.Exited() {
			t.Errorf("not exited after Stop")
		}
		if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal after exit = %v, want ErrProcessDone", err)
		}
	})

	t.Run("stop kills a process ignoring SIGTERM", func(t *testing.T) {
		p, err := n1.Start([]string{"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "trap installed", func() bool {
			b, _ := os.ReadFile(p.Log)
			return strings.Contains(string(b), "ready")
		})
		p.StopTimeout = 200 * time.Millisecond
		if err := p.Stop(); err == nil {
			t.Errorf("Stop = nil, want an error saying it had to kill")
		}
		if !p.Exited() {
			t.Errorf("not exited after Stop")
		}
	})

	t.Run("exec", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		out, err := n1.Exec(ctx, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), n1.Addr4.String()+"/24") {
			t.Errorf("eth0 in %s lacks %v/24:\n%s", n1.NS, n1.Addr4, out)
		}
		if _, err := n1.Exec(ctx, "sh", "-c", "echo boom >&2; exit 1"); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("Exec error = %v, want stderr in it", err)
		}
	})
}

func TestAttach(t *testing.T) {
	requireRoot(t)
	name := "ta" + strconv.FormatInt(int64(os.Getpid()), 36)
	l, err := New(t.Context(), Options{Name: name, Nodes: 2, IPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	a, err := Attach(name)
	if err != nil {
		t.Fatal(err)
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(Host{}), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})}
	if diff := cmp.Diff(l.Hosts(), a.Hosts(), opts); diff != "" {
		t.Errorf("attached hosts (-built +attached):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Prefix{l.Net4, l.Net6}, []netip.Prefix{a.Net4, a.Net6}, opts); diff != "" {
		t.Errorf("attached subnets (-built +attached):\n%s", diff)
	}
	if d := a.Describe(); !strings.Contains(d, l.Nodes[1].NS) || !strings.Contains(d, l.Nodes[1].Addr6.String()) {
		t.Errorf("Describe lacks n2:\n%s", d)
	}
	mustReach(t, a.Nodes[0], a.Nodes[1].Addr4)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !netnsList(t)[l.Nodes[0].NS] {
		t.Errorf("closing an attached lab removed its namespaces")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Attach(name); err == nil {
		t.Errorf("Attach after Close succeeded")
	}
}
