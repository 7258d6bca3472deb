package control

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeBackend struct {
	st         Status
	reloadErr  error
	reloads    int
	handovers  int
	handoverTo string
}

func (f *fakeBackend) Status() Status { return f.st }
func (f *fakeBackend) Reload() error  { f.reloads++; return f.reloadErr }
func (f *fakeBackend) Handover(name, to string) error {
	f.handoverTo = to
	if name != "VI_1" {
		return errors.New("no instance " + name)
	}
	f.handovers++
	return nil
}

func TestStatusAndReloadOverSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "vipd.sock")
	be := &fakeBackend{st: Status{Node: "n1", Instances: []InstanceStatus{{
		Name: "VI_1", VRID: 51, State: "MASTER", Priority: 100, BasePriority: 100,
		VIPs: []string{"10.0.0.100/24"}, Last: Transition{From: "BACKUP", To: "MASTER", Reason: "master down timer expired"},
	}}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(sock, be, slog.Default()).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})

	c := NewClient(sock)
	var got Status
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, err = c.Status(context.Background()); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if diff := cmp.Diff(be.st, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if err := c.Reload(context.Background()); err != nil {
		t.Errorf("reload: %v", err)
	}
	be.reloadErr = errors.New("x.conf:3: priority 300 out of range 1..255")
	err = c.Reload(context.Background())
	if err == nil || err.Error() != "vipd: x.conf:3: priority 300 out of range 1..255" {
		t.Errorf("reload of broken config: got %v", err)
	}
	if err := c.Handover(context.Background(), "VI_1", "n 3"); err != nil || be.handovers != 1 || be.handoverTo != "n 3" {
		t.Errorf("handover VI_1 --to 'n 3': err %v, handovers %d, to %q", err, be.handovers, be.handoverTo)
	}
	if err := c.Handover(context.Background(), "VI/9", ""); err == nil || err.Error() != "vipd: no instance VI/9" {
		t.Errorf("handover of an unknown instance: got %v", err)
	}
	if be.reloads != 2 {
		t.Errorf("reloads = %d, want 2", be.reloads)
	}
}
