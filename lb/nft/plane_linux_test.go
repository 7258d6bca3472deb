package nft

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

var nsCounter atomic.Int32

// newNS makes a uniquely named namespace removed by t.Cleanup, and a Plane in it.
func newNS(t *testing.T) *Plane {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft binary missing (make test installs it)")
	}
	name := fmt.Sprintf("vipdnft-%d-%d", os.Getpid(), nsCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return planeIn(t, name)
}

// planeIn returns a Plane for the named namespace, dialled as the daemon
// dials it (Dial), with its handle closed by t.Cleanup.
func planeIn(t *testing.T, name string) *Plane {
	t.Helper()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	c, err := Dial(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	p := New(c, "")
	p.SetNetNS(name)
	return p
}

func TestApplyKernel(t *testing.T) {
	p := newNS(t)
	for _, tc := range goldenStates() {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // idempotent: the second Apply replaces the same table
				if err := p.Apply(tc.st); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			dump, err := p.Dump()
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"table ip vipd_lb", "type nat hook prerouting", "type nat hook output"} {
				if !strings.Contains(dump, want) {
					t.Errorf("dump lacks %q:\n%s", want, dump)
				}
			}
			t.Logf("%s", dump)
		})
	}
	// Persistence entries survive an Apply (a read-back, re-add round trip).
	st := State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Persistence: time.Minute, Backends: []Backend{rs1}}}}
	if err := p.Apply(st); err != nil {
		t.Fatal(err)
	}
	set, err := p.conn.GetSetByName(p.table, persistName("web", rs1))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.conn.SetAddElements(set, []nftables.SetElement{{Key: []byte{192, 0, 2, 1}, Timeout: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if err := p.conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(st); err != nil {
		t.Fatal(err)
	}
	set, err = p.conn.GetSetByName(p.table, persistName("web", rs1))
	if err != nil {
		t.Fatal(err)
	}
	elems, err := p.conn.GetSetElements(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(elems) != 1 || string(elems[0].Key) != string([]byte{192, 0, 2, 1}) {
		t.Errorf("persist entries after Apply = %+v, want the one for 192.0.2.1", elems)
	}

	for range 2 {
		if err := p.Remove(); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	if out, err := p.Dump(); err == nil {
		t.Errorf("table still there after Remove:\n%s", out)
	}
}
