package track

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vipd/vipd/internal/clock"
)

var linkCounter atomic.Uint32

// uniqueLinkName returns an interface name unique to this test process
// (pid and counter), at most 15 characters.
func uniqueLinkName(prefix string) string {
	return fmt.Sprintf("%s%d%d", prefix, os.Getpid()%100000, linkCounter.Add(1))
}

// newTestNS creates a fresh network namespace without moving the test into
// it; it is closed (and so destroyed with its links) in t.Cleanup.
func newTestNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("get current netns: %v", err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatalf("return to the original netns: %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		t.Fatalf("netlink handle in netns: %v", err)
	}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
	})
	return ns, h
}

func TestInterfacesTracker(t *testing.T) {
	ns, h := newTestNS(t)
	name := uniqueLinkName("vtk")
	peer := uniqueLinkName("vtp")
	missing := uniqueLinkName("vtm")
	// A veth pair (this kernel has no dummy driver): the tracked end is
	// running only while both ends are up.
	addVeth := func() netlink.Link {
		t.Helper()
		if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
			t.Fatalf("add veth %s/%s: %v", name, peer, err)
		}
		p, err := h.LinkByName(peer)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(p); err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	link := addVeth()
	t.Cleanup(func() {
		if l, err := h.LinkByName(name); err == nil {
			_ = h.LinkDel(l)
		}
	})
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}

	setPeer := func(up bool) error {
		p, err := h.LinkByName(peer)
		if err != nil {
			return err
		}
		if up {
			return h.LinkSetUp(p)
		}
		return h.LinkSetDown(p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan Status, 10)
	errc := make(chan error, 1)
	go func() { errc <- NewInterfacesAt(ns, clock.Real(), name, missing).Run(ctx, updates) }()

	type got struct {
		Name string
		OK   bool
	}
	next := func(what string) got {
		t.Helper()
		select {
		case s := <-updates:
			if !s.Known || s.Kind != KindInterface {
				t.Errorf("%s: bad status %+v", what, s)
			}
			t.Logf("%s: %+v", what, s)
			return got{s.Name, s.OK}
		case err := <-errc:
			t.Fatalf("%s: Run returned early: %v", what, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no update within 5 s", what)
		}
		return got{}
	}
	steps := []struct {
		what   string
		action func() error
		want   got
	}{
		{"initial up", nil, got{name, true}},
		{"initial missing", nil, got{missing, false}},
		{"set down", func() error { return h.LinkSetDown(link) }, got{name, false}},
		{"set up", func() error { return h.LinkSetUp(link) }, got{name, true}},
		{"carrier lost (peer down)", func() error { return setPeer(false) }, got{name, false}},
		{"carrier back (peer up)", func() error { return setPeer(true) }, got{name, true}},
		{"deleted", func() error { return h.LinkDel(link) }, got{name, false}},
		{"re-created and up", func() error { link = addVeth(); return h.LinkSetUp(link) }, got{name, true}},
	}
	for _, st := range steps {
		if st.action != nil {
			if err := st.action(); err != nil {
				t.Fatalf("%s: %v", st.what, err)
			}
		}
		if diff := cmp.Diff(st.want, next(st.what)); diff != "" {
			t.Errorf("%s: mismatch (-want +got):\n%s", st.what, diff)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	select {
	case s := <-updates:
		t.Errorf("unexpected extra update %+v", s)
	default:
	}
}
