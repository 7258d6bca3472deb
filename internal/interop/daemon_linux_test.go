package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/internal/e2e"
	"github.com/vipd/vipd/internal/lab"
)

// instanceName is the vrrp_instance every test configures on both daemons.
const instanceName = "VI_1"

// Kinds of daemon a lab node runs.
const (
	kindVipd       = "vipd"
	kindKeepalived = "keepalived"
)

// vrrpConf is one node's keepalived.conf; vipd and keepalived read the
// same text, which is the point of the package.
type vrrpConf struct {
	Router    string // router_id
	Version   int    // 2 or 3 (global vrrp_version)
	VRID      int
	Priority  int
	AdvertInt string // as written: "1", "0.2"
	AuthPass  string // v2 only: auth_type PASS with this password; "" for none
	VIP       netip.Prefix
}

// String renders a plain configuration: no vrrp_strict and no scripts, so
// keepalived's script security and strict checks stay out of the way.
func (c vrrpConf) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n", c.Router)
	if c.Version == 3 {
		b.WriteString("    vrrp_version 3\n")
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "vrrp_instance %s {\n    state BACKUP\n    interface eth0\n", instanceName)
	fmt.Fprintf(&b, "    virtual_router_id %d\n    priority %d\n    advert_int %s\n", c.VRID, c.Priority, c.AdvertInt)
	if c.AuthPass != "" {
		fmt.Fprintf(&b, "    authentication {\n        auth_type PASS\n        auth_pass %s\n    }\n", c.AuthPass)
	}
	fmt.Fprintf(&b, "    virtual_ipaddress {\n        %v dev eth0\n    }\n}\n", c.VIP)
	return b.String()
}

// daemon is a VRRP daemon on one lab node, whichever implementation.
type daemon interface {
	Kind() string
	Host() *lab.Host
	// Start (re)starts the daemon with its configuration.
	Start(t testing.TB)
	// Stop sends SIGTERM and waits for the daemon to exit.
	Stop(t testing.TB)
	// Kill9 sends SIGKILL to every process of the daemon and waits for it.
	Kill9(t testing.TB)
	// State is the instance's state as the daemon reports it (MASTER,
	// BACKUP, FAULT), "" if unknown.
	State() string
	// Diag is what to print when something fails: key log lines.
	Diag() string
}

// startDaemon writes conf for h and starts kind on it.
func startDaemon(t testing.TB, kind string, h *lab.Host, conf vrrpConf) daemon {
	t.Helper()
	dir := t.TempDir()
	switch kind {
	case kindVipd:
		return &vipdNode{v: e2e.StartVipd(t, h, dir, conf.String())}
	case kindKeepalived:
		k := &keepalivedNode{host: h, dir: dir, conf: filepath.Join(dir, "keepalived.conf")}
		if err := os.WriteFile(k.conf, []byte(conf.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		k.Start(t)
		return k
	}
	t.Fatalf("unknown daemon kind %q", kind)
	return nil
}

// waitState polls d until its instance is in state.
func waitState(t testing.TB, d daemon, state string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := d.State()
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s: %s is %q after %v, want %s\n%s", d.Kind(), d.Host().Name, instanceName, got, limit, state, d.Diag())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vipdNode is vipd started by the e2e harness.
type vipdNode struct{ v *e2e.Vipd }

func (n *vipdNode) Kind() string       { return kindVipd }
func (n *vipdNode) Host() *lab.Host    { return n.v.Host }
func (n *vipdNode) Start(t testing.TB) { t.Helper(); n.v.Start(t) }
func (n *vipdNode) State() string      { return n.v.State(instanceName) }
func (n *vipdNode) Diag() string       { return keyLines(n.v.Proc.Log, vipdKeyLine) }
func (n *vipdNode) Kill9(t testing.TB) { t.Helper(); must(t, n.v.Proc.Kill()) }
func (n *vipdNode) Stop(t testing.TB)  { t.Helper(); must(t, n.v.Proc.Stop()) }
func (n *vipdNode) status(t testing.TB) control.InstanceStatus {
	t.Helper()
	return vipctlStatus(t, n.v.Socket)
}

// vipdKeyLine picks state changes, drops and errors out of vipd's log.
var vipdKeyLine = regexp.MustCompile(`msg=transition|dropped|level=(WARN|ERROR)|(?i:fence)`)

// vipctlStatus runs `vipctl status --json` and returns our instance, the
// way an operator would look at the drop counters.
func vipctlStatus(t testing.TB, socket string) control.InstanceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, e2e.Binary(t, "vipctl"), "status", "--json", "--control-socket", socket).Output()
	if err != nil {
		t.Fatalf("vipctl status: %v", err)
	}
	var st control.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("vipctl status --json: %v\n%s", err, out)
	}
	for _, in := range st.Instances {
		if in.Name == instanceName {
			return in
		}
	}
	t.Fatalf("vipctl status has no instance %s:\n%s", instanceName, out)
	return control.InstanceStatus{}
}

// keepalivedNode is /usr/sbin/keepalived in the foreground on a lab host.
// Every instance has its own pid files: the default ones under /run are
// shared by all namespaces, and keepalived refuses to start when they name
// a live process.
type keepalivedNode struct {
	host *lab.Host
	dir  string // configuration, pid files and logs
	conf string
	proc *lab.Proc
	runs int
	log  string // log of the current run
}

func (k *keepalivedNode) Kind() string    { return kindKeepalived }
func (k *keepalivedNode) Host() *lab.Host { return k.host }

// Start runs keepalived (VRRP only, no fork, logging to the console which
// Host.Start sends to a file, no syslog) with a fresh log per run, so State
// reads only what this run said.
func (k *keepalivedNode) Start(t testing.TB) {
	t.Helper()
	bin := keepalivedBinary(t)
	k.runs++
	k.log = filepath.Join(k.dir, fmt.Sprintf("keepalived-%s-%d.log", k.host.Name, k.runs))
	argv := []string{bin, "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
		"-f", k.conf,
		"-p", filepath.Join(k.dir, "keepalived.pid"),
		"-r", filepath.Join(k.dir, "vrrp.pid"),
		"-c", filepath.Join(k.dir, "checkers.pid"),
		"-b", filepath.Join(k.dir, "bfd.pid"),
	}
	p, err := k.host.Start(argv, nil, k.log)
	if err != nil {
		t.Fatalf("start keepalived on %s: %v", k.host.Name, err)
	}
	k.proc = p
}

// Stop is a clean shutdown: the parent passes SIGTERM to its VRRP child,
// which sends priority 0 and removes the VIPs.
func (k *keepalivedNode) Stop(t testing.TB) {
	t.Helper()
	must(t, k.proc.Stop())
}

// Kill9 kills the parent and its VRRP child at once. Killing only the
// parent is not a crash: the child gets SIGTERM as its parent-death signal
// and shuts down cleanly, releasing the VIPs. Host.Start put both in a
// process group of their own whose id is the parent's pid.
func (k *keepalivedNode) Kill9(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(-k.proc.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 keepalived group %d: %v", k.proc.Pid, err)
	}
	<-k.proc.Done()
}

// keepalivedState matches keepalived's state changes: "(VI_1) Entering
// MASTER STATE", "(VI_1) Entering BACKUP STATE (init)".
var keepalivedState = regexp.MustCompile(`\(` + instanceName + `\) Entering ([A-Z]+) STATE`)

// State is the last state keepalived logged for the instance in this run
// ("" before the first, or once the process has exited).
func (k *keepalivedNode) State() string {
	if k.proc == nil || k.proc.Exited() {
		return ""
	}
	b, err := os.ReadFile(k.log)
	if err != nil {
		return ""
	}
	var state string
	for _, m := range keepalivedState.FindAllSubmatch(b, -1) {
		state = string(m[1])
	}
	return state
}

// keepalivedKeyLine picks keepalived's state changes and complaints.
var keepalivedKeyLine = regexp.MustCompile(`\(` + instanceName + `\)|Starting Keepalived|Stopped|(?i:error|warning|invalid|mismatch)`)

func (k *keepalivedNode) Diag() string { return keyLines(k.log, keepalivedKeyLine) }

// logHas reports whether this run's log has a line matching re.
func (k *keepalivedNode) logHas(re *regexp.Regexp) bool {
	b, err := os.ReadFile(k.log)
	return err == nil && re.Match(b)
}

// keepalivedBinary finds keepalived or skips: scripts/install-deps.sh
// installs it for make test.
func keepalivedBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("keepalived")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/keepalived"); serr == nil {
			return "/usr/sbin/keepalived"
		}
		t.Skipf("keepalived not installed (scripts/install-deps.sh installs it): %v", err)
	}
	return p
}

// keyLines returns the lines of a log file that match re, at most the
// last 40, for failure messages.
func keyLines(path string, re *regexp.Regexp) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if re.Match(sc.Bytes()) {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return "key lines of " + path + ":\n  " + strings.Join(lines, "\n  ")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// requireLab skips where namespaces or keepalived are unavailable.
func requireLab(t *testing.T) {
	t.Helper()
	e2e.RequireRoot(t)
	keepalivedBinary(t)
}

// newLab is a two-node lab whose namespaces carry our own prefix, so a
// crashed run is told apart from other packages' labs.
func newLab(t *testing.T) *lab.Lab {
	t.Helper()
	return lab.ForTest(t, lab.Options{Prefix: "ix", Nodes: 2})
}

// vrid picks a VRID per lab; each lab is its own LAN, so any fixed value
// would do, but a varying one keeps captures of different tests apart.
func vrid(l *lab.Lab) int {
	a := l.Net4.Addr().As4()
	return 1 + int(a[2])%254
}

// parseSec turns an advert_int as written into a duration.
func parseSec(t testing.TB, s string) time.Duration {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("advert_int %q: %v", s, err)
	}
	return time.Duration(f * float64(time.Second))
}
