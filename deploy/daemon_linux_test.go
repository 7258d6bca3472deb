package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// vipdBin is built once for the tests that run the daemon.
var vipdBin struct {
	once sync.Once
	path string
	err  error
}

// buildVipd builds ./cmd/vipd from this checkout (cached by go build).
func buildVipd(t *testing.T) string {
	t.Helper()
	vipdBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "vipd-deploy-test-")
		if err != nil {
			vipdBin.err = err
			return
		}
		vipdBin.path = filepath.Join(dir, "vipd")
		if b, err := exec.Command("go", "build", "-o", vipdBin.path, "../cmd/vipd").CombinedOutput(); err != nil {
			vipdBin.err = fmt.Errorf("go build ./cmd/vipd: %w\n%s", err, b)
		}
	})
	if vipdBin.err != nil {
		t.Fatal(vipdBin.err)
	}
	return vipdBin.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vipdBin.path != "" {
		os.RemoveAll(filepath.Dir(vipdBin.path))
	}
	os.Exit(code)
}

// TestNotifyProtocol runs vipd as systemd would for the unit's Type=notify
// and WatchdogSec= (a notify socket, WATCHDOG_USEC) and checks that it
// reports READY, keeps the watchdog fed, brackets a SIGHUP reload with
// RELOADING/READY and says STOPPING on SIGTERM. The configuration has no
// instances, so vipd touches no interface.
func TestNotifyProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs vipd")
	}
	bin := buildVipd(t)
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(exe, []byte("github.com/vipd/vipd/internal/sdnotify.Ready")) {
		t.Skip("cmd/vipd does not call internal/sdnotify yet: with the unit's WatchdogSec= systemd would kill it (see the wiring in the deploy report)")
	}

	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	// await reads messages until one starts with prefix. The bound is
	// generous: it only keeps a broken vipd from hanging the test.
	await := func(prefix string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed while waiting for %q", prefix)
				}
				if strings.HasPrefix(m, prefix) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q from vipd within 20s", prefix)
			}
		}
	}

	conf := filepath.Join(dir, "vipd.conf")
	if err := os.WriteFile(conf, []byte("global_defs {\n    router_id notify-test\n    metrics_listen 127.0.0.1:0\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", conf, "--log-format", "json", "--control-socket", filepath.Join(dir, "run", "vipd.sock"))
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("vipd's log:\n%s", logs.String())
		}
	}()

	start := time.Now()
	await("READY=1")
	t.Logf("READY=1 %v after start", time.Since(start).Round(time.Millisecond))
	await("WATCHDOG=1")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	await("RELOADING=1\nMONOTONIC_USEC=")
	await("READY=1")
	await("WATCHDOG=1")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	await("STOPPING=1")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("vipd after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("vipd did not exit within 20s of SIGTERM")
	}
}

var nsCounter atomic.Int64

// testNS creates a network namespace with a veth pair (va carries the
// instance, 198.51.100.1/24) and lo up; it is deleted in t.Cleanup.
func testNS(t *testing.T) (string, netns.NsHandle) {
	t.Helper()
	name := fmt.Sprintf("vipddeploy%d-%d", os.Getpid(), nsCounter.Add(1))
	if b, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", name, err, b)
	}
	t.Cleanup(func() {
		if b, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, b)
		}
	})
	for _, args := range [][]string{
		{"link", "add", "va", "type", "veth", "peer", "name", "vb"},
		{"link", "set", "lo", "up"},
		{"link", "set", "va", "up"},
		{"link", "set", "vb", "up"},
		{"addr", "add", "198.51.100.1/24", "dev", "va"},
	} {
		if b, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return name, h
}

// capConfig is one node that becomes MASTER on va at once (VRRPv3, 100 ms
// adverts, no peer) while its script, run as nobody, passes.
func capConfig(script, timeout string) string {
	return fmt.Sprintf(`global_defs {
    metrics_listen 127.0.0.1:0
}
vrrp_script chk {
    script "%s"
    interval 0.2
    timeout %s
    user nobody
}
vrrp_instance VI_1 {
    state MASTER
    interface va
    virtual_router_id 51
    priority 255
    version 3
    advert_int 0.1
    virtual_ipaddress {
        198.51.100.10/24
    }
    track_script {
        chk
    }
}
`, script, timeout)
}

// TestUnitCapabilities runs vipd with the unit's CapabilityBoundingSet and
// NoNewPrivileges (setpriv does for a root process what systemd does) in a
// namespace: with the whole set it becomes MASTER, installs its VIP and
// kills a timed-out script of another user; without any one capability it
// fails in the way that capability explains.
func TestUnitCapabilities(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs vipd in a network namespace")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	for _, tool := range []string{"setpriv", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install util-linux iproute2)", tool)
		}
	}
	caps := strings.Fields(unit(t, "systemd/vipd.service")["Service"]["CapabilityBoundingSet"][0])
	bin := buildVipd(t)
	vip := netip.MustParseAddr("198.51.100.10")

	for _, tc := range []struct {
		name, drop      string // drop: a capability removed from the unit's set
		script, timeout string
		// wantVIP: the VIP appears; else wantLog: a log line containing all
		// of these appears.
		wantVIP bool
		wantLog []string
	}{
		{name: "unit's set", script: "/bin/true", timeout: "1", wantVIP: true},
		{name: "unit's set kills a timed-out script of nobody", script: "/bin/sleep 60", timeout: "0.3",
			wantLog: []string{`"tracker changed"`, `timed_out`}},
		{name: "without CAP_NET_RAW", drop: "CAP_NET_RAW", script: "/bin/true", timeout: "1",
			wantLog: []string{"open VRRP socket", "operation not permitted"}},
		{name: "without CAP_NET_ADMIN", drop: "CAP_NET_ADMIN", script: "/bin/true", timeout: "1",
			wantLog: []string{"vip: ", "operation not permitted"}},
		{name: "without CAP_SETUID", drop: "CAP_SETUID", script: "/bin/true", timeout: "1",
			wantLog: []string{"fork/exec /bin/true", "operation not permitted"}},
		{name: "without CAP_SETGID", drop: "CAP_SETGID", script: "/bin/true", timeout: "1",
			wantLog: []string{"fork/exec /bin/true", "operation not permitted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bset := "-all"
			dropped := false
			for _, c := range caps {
				if c == tc.drop {
					dropped = true
					continue
				}
				bset += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
			}
			if tc.drop != "" && !dropped {
				t.Fatalf("%s is not in the unit's CapabilityBoundingSet %q", tc.drop, caps)
			}
			ns, nsh := testNS(t)
			dir := t.TempDir()
			conf := filepath.Join(dir, "vipd.conf")
			if err := os.WriteFile(conf, []byte(capConfig(tc.script, tc.timeout)), 0o600); err != nil {
				t.Fatal(err)
			}

			// Subscribe before vipd starts so no address event is missed.
			addrs := make(chan netlink.AddrUpdate, 64)
			done := make(chan struct{})
			defer close(done)
			if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: &nsh, ListExisting: true}); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command("ip", "netns", "exec", ns, "setpriv", "--bounding-set="+bset, "--inh-caps=-all", "--no-new-privs", "--",
				bin, "-f", conf, "--log-format", "json", "--control-socket", filepath.Join(dir, "vipd.sock"))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var logMu sync.Mutex
			var logs bytes.Buffer
			lines := make(chan string, 1024)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					logMu.Lock()
					logs.WriteString(sc.Text() + "\n")
					logMu.Unlock()
					select {
					case lines <- sc.Text():
					default: // nobody waits for logs any more
					}
				}
			}()
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			stopped := false
			defer func() {
				if !stopped {
					cmd.Process.Kill()
					<-exited
				}
				if t.Failed() {
					logMu.Lock()
					t.Logf("vipd (bounding set %s):\n%s", bset, logs.String())
					logMu.Unlock()
				}
			}()

			// Generous: only keeps a broken case from hanging the test.
			limit := time.After(15 * time.Second)
			start := time.Now()
			if tc.wantVIP {
			waitVIP:
				for {
					select {
					case u := <-addrs:
						if a, ok := netip.AddrFromSlice(u.LinkAddress.IP); ok && a.Unmap() == vip && u.NewAddr {
							t.Logf("VIP installed %v after start (valid_lft %ds)", time.Since(start).Round(time.Millisecond), u.ValidLft)
							break waitVIP
						}
					case err := <-exited:
						stopped = true
						t.Fatalf("vipd exited before installing the VIP: %v", err)
					case <-limit:
						t.Fatal("VIP not installed within 15s")
					}
				}
				// A clean stop takes it away again.
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-exited:
					stopped = true
					if err != nil {
						t.Errorf("vipd after SIGTERM: %v, want exit 0", err)
					}
				case <-limit:
					t.Fatal("vipd did not exit within 15s of SIGTERM")
				}
				if held := vipHeld(t, nsh, vip); held {
					t.Errorf("VIP %v still on va after a clean stop", vip)
				}
				return
			}
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("vipd's log ended without a line containing %q", tc.wantLog)
					}
					if containsAll(l, tc.wantLog) {
						t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), l)
						if vipHeld(t, nsh, vip) {
							t.Errorf("VIP %v installed although %s", vip, tc.name)
						}
						return
					}
				case <-limit:
					t.Fatalf("no log line containing %q within 15s", tc.wantLog)
				}
			}
		})
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func vipHeld(t *testing.T, nsh netns.NsHandle, vip netip.Addr) bool {
	t.Helper()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	list, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if x, ok := netip.AddrFromSlice(a.IP); ok && x.Unmap() == vip {
			return true
		}
	}
	return false
}
