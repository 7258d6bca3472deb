package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/internal/lab"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// RepoRoot is the module root (this file is internal/e2e/harness.go).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary builds cmd/NAME once per test process and returns its path.
func Binary(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "vipd-e2e-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", buildDir+"/", "./cmd/vipd", "./cmd/vipctl")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return filepath.Join(buildDir, name)
}

// Cleanup removes the binaries built by Binary; call it from TestMain.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// RequireRoot skips a test that needs network namespaces when not root.
// make test and CI run as root, so there the tests always run.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (run via make test)")
	}
	if testing.Short() {
		t.Skip("namespace end-to-end test skipped in -short mode")
	}
}

// Vipd is one vipd process on a lab host.
type Vipd struct {
	Host   *lab.Host
	Conf   string // config file path
	Socket string // control socket path
	Proc   *lab.Proc
}

// StartVipd writes conf for h and starts vipd on it.
func StartVipd(t testing.TB, h *lab.Host, dir, conf string, extraArgs ...string) *Vipd {
	t.Helper()
	v := &Vipd{
		Host:   h,
		Conf:   filepath.Join(dir, h.Name+".conf"),
		Socket: filepath.Join(dir, h.Name+".sock"),
	}
	if err := os.WriteFile(v.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Start(t, extraArgs...)
	return v
}

// Start (re)starts vipd with the config already written.
func (v *Vipd) Start(t testing.TB, extraArgs ...string) {
	t.Helper()
	argv := append([]string{Binary(t, "vipd"), "-f", v.Conf, "--control-socket", v.Socket,
		"--node-name", v.Host.Name, "--log-level", "debug"}, extraArgs...)
	p, err := v.Host.Start(argv, nil, "")
	if err != nil {
		t.Fatalf("start vipd on %s: %v", v.Host.Name, err)
	}
	v.Proc = p
}

// Status asks vipd for its status over the control socket.
func (v *Vipd) Status(ctx context.Context) (control.Status, error) {
	return control.NewClient(v.Socket).Status(ctx)
}

// State returns the state of the named instance, or "" when unknown.
func (v *Vipd) State(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := v.Status(ctx)
	if err != nil {
		return ""
	}
	for _, in := range st.Instances {
		if in.Name == name {
			return in.State
		}
	}
	return ""
}

// WaitState waits until the named instance reaches state, or fails t.
func (v *Vipd) WaitState(t testing.TB, name, state string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := v.State(name)
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: instance %s is %q after %s, want %s", v.Host.Name, name, got, limit, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
