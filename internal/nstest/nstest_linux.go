// Package nstest builds throw-away network namespaces and veth pairs for
// the tests of the packages that talk to the kernel (vip, vrrpconn,
// announce): uniquely named, removed in t.Cleanup.
package nstest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var nsCounter atomic.Int32

// NS is a throw-away network namespace with a netlink handle into it.
type NS struct {
	Name   string
	Handle netns.NsHandle
	NL     *netlink.Handle
}

// OnThread runs fn on a locked OS thread that is thrown away afterwards,
// so a namespace switch inside fn never leaks to other goroutines.
func OnThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		errc <- fn()
	}()
	return <-errc
}

// New creates a uniquely named namespace (tag names the test package)
// with lo up and IPv6 DAD off, so test addresses are usable at once; it is
// removed in t.Cleanup. It skips the test when not root.
func New(t *testing.T, tag string) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	n := &NS{Name: fmt.Sprintf("vipdtest-%s-%d-%d", tag, os.Getpid(), nsCounter.Add(1))}
	err := OnThread(func() error {
		h, err := netns.NewNamed(n.Name)
		n.Handle = h
		return err
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", n.Name, err)
	}
	t.Cleanup(func() {
		if n.NL != nil {
			n.NL.Close()
		}
		n.Handle.Close()
		if err := netns.DeleteNamed(n.Name); err != nil {
			t.Errorf("delete netns %s: %v", n.Name, err)
		}
	})
	if n.NL, err = netlink.NewHandleAt(n.Handle); err != nil {
		t.Fatalf("netlink handle in %s: %v", n.Name, err)
	}
	lo, err := n.NL.LinkByName("lo")
	if err != nil {
		t.Fatalf("lo: %v", err)
	}
	if err := n.NL.LinkSetUp(lo); err != nil {
		t.Fatalf("lo up: %v", err)
	}
	n.Sysctl(t, "net/ipv6/conf/all/accept_dad", "0")
	n.Sysctl(t, "net/ipv6/conf/default/accept_dad", "0")
	return n
}

// Do runs fn inside the namespace.
func (n *NS) Do(fn func() error) error {
	return OnThread(func() error {
		if err := netns.Set(n.Handle); err != nil {
			return fmt.Errorf("setns %s: %w", n.Name, err)
		}
		return fn()
	})
}

// Sysctl writes value to /proc/sys/key inside the namespace.
func (n *NS) Sysctl(t *testing.T, key, value string) {
	t.Helper()
	err := n.Do(func() error { return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644) })
	if err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v", key, value, n.Name, err)
	}
}

// ReadSysctl reads /proc/sys/key inside the namespace, without the newline.
func (n *NS) ReadSysctl(t *testing.T, key string) string {
	t.Helper()
	var b []byte
	err := n.Do(func() (err error) {
		b, err = os.ReadFile(filepath.Join("/proc/sys", key))
		return err
	})
	if err != nil {
		t.Fatalf("sysctl %s in %s: %v", key, n.Name, err)
	}
	return string(b[:len(b)-1])
}

// LinkName returns an interface name unique to this test process.
func LinkName(tag string) string {
	return fmt.Sprintf("%s%d_%d", tag, os.Getpid()%100000, nsCounter.Add(1))
}

// Veth creates a veth pair aName (in a) ↔ bName (in b), both up.
func Veth(t *testing.T, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(int(b.Handle)),
	}
	if err := a.NL.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s: %v", aName, bName, err)
	}
	for _, e := range []struct {
		ns   *NS
		name string
	}{{a, aName}, {b, bName}} {
		l, err := e.ns.NL.LinkByName(e.name)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if err := e.ns.NL.LinkSetUp(l); err != nil {
			t.Fatalf("%s up: %v", e.name, err)
		}
	}
}

// AddAddr puts a permanent address on dev (no DAD).
func (n *NS) AddAddr(t *testing.T, dev string, p netip.Prefix) {
	t.Helper()
	l, err := n.NL.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s: %v", dev, err)
	}
	a, err := netlink.ParseAddr(p.String())
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	a.Flags = unix.IFA_F_NODAD
	if err := n.NL.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s: %v", p, dev, err)
	}
}

// LinkIndex returns dev's interface index in the namespace.
func (n *NS) LinkIndex(t *testing.T, dev string) int {
	t.Helper()
	l, err := n.NL.LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, n.Name, err)
	}
	return l.Attrs().Index
}

// LinkLocal waits (bounded, 10 s) for dev's IPv6 link-local address: the
// kernel adds it shortly after the link comes up, later on a loaded machine.
func (n *NS) LinkLocal(t *testing.T, dev string) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var addrs []net.Addr
		err := n.Do(func() error {
			ifi, err := net.InterfaceByName(dev)
			if err != nil {
				return err
			}
			addrs, err = ifi.Addrs()
			return err
		})
		if err != nil {
			t.Fatalf("%s in %s: %v", dev, n.Name, err)
		}
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.(*net.IPNet).IP)
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				return ip
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s has no link-local address after 10 s", dev, n.Name)
		}
		time.Sleep(10 * time.Millisecond) // polls the kernel, not a clock
	}
}
