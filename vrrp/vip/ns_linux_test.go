package vip

// Test helpers that build throw-away network namespaces. The same small
// helper is repeated in vip, vrrpconn and announce: test files cannot share
// code across packages, and these packages must not depend on each other.

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var nsCounter atomic.Int32

type testNS struct {
	name string
	h    netns.NsHandle
	nl   *netlink.Handle
}

// onThread runs fn on a locked OS thread that is thrown away afterwards,
// so a namespace switch inside fn never leaks to other goroutines.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		errc <- fn()
	}()
	return <-errc
}

// newNS creates a uniquely named namespace with lo up and IPv6 DAD off
// (so test addresses are usable at once), removed in t.Cleanup.
func newNS(t *testing.T) *testNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	n := &testNS{name: fmt.Sprintf("vipdtest-vip-%d-%d", os.Getpid(), nsCounter.Add(1))}
	err := onThread(func() error {
		h, err := netns.NewNamed(n.name)
		n.h = h
		return err
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", n.name, err)
	}
	t.Cleanup(func() {
		if n.nl != nil {
			n.nl.Close()
		}
		n.h.Close()
		if err := netns.DeleteNamed(n.name); err != nil {
			t.Errorf("delete netns %s: %v", n.name, err)
		}
	})
	if n.nl, err = netlink.NewHandleAt(n.h); err != nil {
		t.Fatalf("netlink handle in %s: %v", n.name, err)
	}
	lo, err := n.nl.LinkByName("lo")
	if err != nil {
		t.Fatalf("lo: %v", err)
	}
	if err := n.nl.LinkSetUp(lo); err != nil {
		t.Fatalf("lo up: %v", err)
	}
	n.sysctl(t, "net/ipv6/conf/all/accept_dad", "0")
	n.sysctl(t, "net/ipv6/conf/default/accept_dad", "0")
	return n
}

// do runs fn inside the namespace.
func (n *testNS) do(fn func() error) error {
	return onThread(func() error {
		if err := netns.Set(n.h); err != nil {
			return fmt.Errorf("setns %s: %w", n.name, err)
		}
		return fn()
	})
}

func (n *testNS) sysctl(t *testing.T, key, value string) {
	t.Helper()
	err := n.do(func() error { return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644) })
	if err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v", key, value, n.name, err)
	}
}

func (n *testNS) readSysctl(t *testing.T, key string) string {
	t.Helper()
	var b []byte
	err := n.do(func() (err error) {
		b, err = os.ReadFile(filepath.Join("/proc/sys", key))
		return err
	})
	if err != nil {
		t.Fatalf("sysctl %s in %s: %v", key, n.name, err)
	}
	return string(b[:len(b)-1])
}

// linkName returns an interface name unique to this test process.
func linkName(tag string) string {
	return fmt.Sprintf("%s%d_%d", tag, os.Getpid()%100000, nsCounter.Add(1))
}

// veth creates a veth pair aName (in a) ↔ bName (in b), both up.
func veth(t *testing.T, a *testNS, aName string, b *testNS, bName string) {
	t.Helper()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(int(b.h)),
	}
	if err := a.nl.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s: %v", aName, bName, err)
	}
	for _, e := range []struct {
		ns   *testNS
		name string
	}{{a, aName}, {b, bName}} {
		l, err := e.ns.nl.LinkByName(e.name)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if err := e.ns.nl.LinkSetUp(l); err != nil {
			t.Fatalf("%s up: %v", e.name, err)
		}
	}
}

// addAddr puts a permanent address on dev (no DAD).
func (n *testNS) addAddr(t *testing.T, dev string, p netip.Prefix) {
	t.Helper()
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s: %v", dev, err)
	}
	a, err := netlink.ParseAddr(p.String())
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	a.Flags = unix.IFA_F_NODAD
	if err := n.nl.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s: %v", p, dev, err)
	}
}
