package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/nstest"
)

// world is one namespace with a veth pair whose first end carries the VIPs.
type world struct {
	ns  *nstest.NS
	dev string
	m   *Manager
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ns := nstest.New(t, "vip")
	dev, peer := nstest.LinkName("vp"), nstest.LinkName("vq")
	nstest.Veth(t, ns, dev, ns, peer)
	m, err := NewAt(ns.Handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return &world{ns: ns, dev: dev, m: m}
}

// observed is what the kernel reports for one address, in comparable form.
type observed struct {
	Label         string
	Scope         int
	Brd           string
	NoPrefixRoute bool
	NoDAD         bool
	Forever       bool
}

// lookup returns the kernel's view of p on dev, and its valid lifetime.
func (w *world) lookup(t *testing.T, p netip.Prefix) (observed, int, bool) {
	t.Helper()
	l, err := w.ns.NL.LinkByName(w.dev)
	if err != nil {
		t.Fatal(err)
	}
	list, err := w.ns.NL.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		ip, _ := netipFromIP(a.IP)
		ones, _ := a.Mask.Size()
		if ip != p.Addr() || ones != p.Bits() {
			continue
		}
		o := observed{
			Label:         a.Label,
			Scope:         a.Scope,
			NoPrefixRoute: a.Flags&unix.IFA_F_NOPREFIXROUTE != 0,
			NoDAD:         a.Flags&unix.IFA_F_NODAD != 0,
			Forever:       uint32(a.ValidLft) == infinityLifetime,
		}
		if a.Broadcast != nil {
			o.Brd = a.Broadcast.String()
		}
		return o, a.ValidLft, true
	}
	return observed{}, 0, false
}

func TestApplyRemove(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		addr Addr
		want observed
	}{
		{
			name: "ipv4 label brd noprefixroute",
			addr: Addr{Prefix: netip.MustParsePrefix("10.1.0.10/24"), Dev: w.dev, Label: w.dev + ":v", Brd: netip.MustParseAddr("10.1.0.254"), NoPrefixRoute: true},
			want: observed{Label: w.dev + ":v", Scope: 0, Brd: "10.1.0.254", NoPrefixRoute: true},
		},
		{
			name: "ipv4 default brd",
			addr: Addr{Prefix: netip.MustParsePrefix("10.1.0.11/24"), Dev: w.dev, Scope: "global"},
			want: observed{Label: w.dev, Brd: "10.1.0.255"},
		},
		{
			name: "ipv4 host scope",
			addr: Addr{Prefix: netip.MustParsePrefix("10.2.0.1/32"), Dev: w.dev, Scope: "host"},
			want: observed{Label: w.dev, Scope: 254},
		},
		{
			name: "ipv6 global nodad",
			addr: Addr{Prefix: netip.MustParsePrefix("fd00:1::10/64"), Dev: w.dev},
			want: observed{NoDAD: true},
		},
		{
			name: "ipv6 link scope",
			addr: Addr{Prefix: netip.MustParsePrefix("fe80::10/64"), Dev: w.dev, Scope: "link"},
			want: observed{Scope: 253, NoDAD: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrs := []Addr{tt.addr}
			if err := w.m.Apply(addrs, 30*time.Second); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got, lft, ok := w.lookup(t, tt.addr.Prefix)
			if !ok {
				t.Fatalf("%v not installed", tt.addr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("installed address (-want +got):\n%s", diff)
			}
			if lft <= 0 || lft > 30 {
				t.Errorf("valid_lft = %d, want 1..30", lft)
			}
			if present, err := w.m.Present(tt.addr); err != nil || !present {
				t.Errorf("Present = %v, %v; want true", present, err)
			}

			// Permanent on a second Apply: the same address, refreshed in place.
			if err := w.m.Apply(addrs, 0); err != nil {
				t.Fatalf("Apply again: %v", err)
			}
			got, _, _ = w.lookup(t, tt.addr.Prefix)
			want := tt.want
			want.Forever = true
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("after Apply(0) (-want +got):\n%s", diff)
			}

			if err := w.m.Remove(addrs); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if _, _, ok := w.lookup(t, tt.addr.Prefix); ok {
				t.Errorf("%v still present after Remove", tt.addr)
			}
			if present, err := w.m.Present(tt.addr); err != nil || present {
				t.Errorf("Present after Remove = %v, %v; want false", present, err)
			}
			if err := w.m.Remove(addrs); err != nil {
				t.Errorf("second Remove: %v", err)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	w := newWorld(t)
	good := Addr{Prefix: netip.MustParsePrefix("10.3.0.1/24"), Dev: w.dev}
	tests := []struct {
		name string
		bad  Addr
	}{
		{"missing device", Addr{Prefix: netip.MustParsePrefix("10.3.0.2/24"), Dev: "nosuchdev0"}},
		{"bad scope", Addr{Prefix: netip.MustParsePrefix("10.3.0.3/24"), Dev: w.dev, Scope: "planet"}},
		{"long label", Addr{Prefix: netip.MustParsePrefix("10.3.0.4/24"), Dev: w.dev, Label: "a-very-long-label-name"}},
		{"invalid prefix", Addr{Dev: w.dev}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The bad entry comes first: the good one must still be applied.
			if err := w.m.Apply([]Addr{tt.bad, good}, time.Minute); err == nil {
				t.Errorf("Apply(%v) succeeded, want error", tt.bad)
			}
			if _, _, ok := w.lookup(t, good.Prefix); !ok {
				t.Errorf("good address not applied after a bad one")
			}
		})
	}
	if err := w.m.Remove([]Addr{{Prefix: good.Prefix, Dev: "nosuchdev0"}}); err != nil {
		t.Errorf("Remove on a missing device: %v", err)
	}
	if present, err := w.m.Present(Addr{Prefix: good.Prefix, Dev: "nosuchdev0"}); err != nil || present {
		t.Errorf("Present on a missing device = %v, %v; want false, nil", present, err)
	}
}

// watchDeletes reports when addr is deleted from the world's namespace.
func (w *world) watchDeletes(t *testing.T, p netip.Prefix) <-chan time.Time {
	t.Helper()
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	if err := netlink.AddrSubscribeAt(w.ns.Handle, updates, done); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	deleted := make(chan time.Time, 1)
	go func() {
		for u := range updates {
			ip, _ := netipFromIP(u.LinkAddress.IP)
			if !u.NewAddr && ip == p.Addr() {
				deleted <- time.Now()
				return
			}
		}
	}()
	return deleted
}

// TestExpiry measures how long after installation the kernel removes an
// address that is not refreshed. It asserts only a generous bound; the
// measured delays are logged (see docs/kernel-fence.md).
func TestExpiry(t *testing.T) {
	t.Parallel() // each subtest has its own namespace, and the kernel's lifetime worker is per namespace
	for _, fam := range []string{"ipv4", "ipv6"} {
		for _, lft := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/lft=%ds", fam, lft), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t)
				p := netip.MustParsePrefix("10.4.0.1/24")
				if fam == "ipv6" {
					p = netip.MustParsePrefix("fd00:4::1/64")
				}
				deleted := w.watchDeletes(t, p)
				lifetime := time.Duration(lft) * time.Second
				start := time.Now()
				if err := w.m.Apply([]Addr{{Prefix: p, Dev: w.dev}}, lifetime); err != nil {
					t.Fatal(err)
				}
				bound := lifetime + 3*time.Second
				select {
				case at := <-deleted:
					t.Logf("%s valid_lft=%ds: removed %v after Apply (%+v vs lifetime)", fam, lft, at.Sub(start).Round(time.Millisecond), (at.Sub(start) - lifetime).Round(time.Millisecond))
				case <-time.After(bound):
					t.Fatalf("%v still present %v after Apply with a %v lifetime", p, bound, lifetime)
				}
				if present, err := w.m.Present(Addr{Prefix: p, Dev: w.dev}); err != nil || present {
					t.Errorf("Present after expiry = %v, %v", present, err)
				}
			})
		}
	}
}

// TestRefreshKeepsAddress refreshes a 2 s lifetime every 500 ms for 2.5 s, longer
// than the lifetime: the address must stay; once refreshing stops it must
// go within a bound.
func TestRefreshKeepsAddress(t *testing.T) {
	t.Parallel() // each subtest has its own namespace, and the kernel's lifetime worker is per namespace
	for _, p := range []netip.Prefix{netip.MustParsePrefix("10.5.0.1/24"), netip.MustParsePrefix("fd00:5::1/64")} {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			a := []Addr{{Prefix: p, Dev: w.dev}}
			deleted := w.watchDeletes(t, p)
			const lifetime = 2 * time.Second
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			stop := time.After(2500 * time.Millisecond)
			last := time.Now()
			if err := w.m.Apply(a, lifetime); err != nil {
				t.Fatal(err)
			}
		refresh:
			for {
				select {
				case at := <-deleted:
					t.Fatalf("address removed while being refreshed (%v after the last refresh)", at.Sub(last))
				case <-stop:
					break refresh
				case <-tick.C:
					last = time.Now()
					if err := w.m.Apply(a, lifetime); err != nil {
						t.Fatal(err)
					}
				}
			}
			select {
			case at := <-deleted:
				t.Logf("removed %v after the last refresh (lifetime %v)", at.Sub(last).Round(time.Millisecond), lifetime)
			case <-time.After(5 * time.Second):
				t.Fatalf("still present 5s after the last refresh with a %v lifetime", lifetime)
			}
		})
	}
}

// TestExpiryDelayedByOtherChange shows the kernel's worst case: any address
// change restarts the lifetime worker, which then waits at least a second,
// so an unrelated change just before expiry delays removal by up to ~1 s.
func TestExpiryDelayedByOtherChange(t *testing.T) {
	t.Parallel() // each subtest has its own namespace, and the kernel's lifetime worker is per namespace
	if testing.Short() {
		t.Skip("timing measurement")
	}
	for _, fam := range []string{"ipv4", "ipv6"} {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			p, other := netip.MustParsePrefix("10.6.0.1/24"), netip.MustParsePrefix("10.7.0.1/24")
			if fam == "ipv6" {
				p, other = netip.MustParsePrefix("fd00:6::1/64"), netip.MustParsePrefix("fd00:7::1/64")
			}
			deleted := w.watchDeletes(t, p)
			const lifetime = 2 * time.Second
			start := time.Now()
			if err := w.m.Apply([]Addr{{Prefix: p, Dev: w.dev}}, lifetime); err != nil {
				t.Fatal(err)
			}
			kick := time.After(1800 * time.Millisecond)
			var kicked time.Duration
			for {
				select {
				case <-kick:
					kicked = time.Since(start)
					if err := w.m.Apply([]Addr{{Prefix: other, Dev: w.dev}}, time.Minute); err != nil {
						t.Fatal(err)
					}
					continue
				case at := <-deleted:
					t.Logf("%s valid_lft=2s, unrelated address added at %v: removed at %v", fam, kicked.Round(time.Millisecond), at.Sub(start).Round(time.Millisecond))
				case <-time.After(lifetime + 3*time.Second):
					t.Fatalf("still present %v after Apply", lifetime+3*time.Second)
				}
				return
			}
		})
	}
}

func TestRemoveNotPresentIsNil(t *testing.T) {
	w := newWorld(t)
	err := w.m.Remove([]Addr{
		{Prefix: netip.MustParsePrefix("10.8.0.1/24"), Dev: w.dev},
		{Prefix: netip.MustParsePrefix("fd00:8::1/64"), Dev: w.dev},
	})
	if err != nil {
		t.Errorf("Remove of absent addresses: %v", err)
	}
	if errors.Is(err, unix.EADDRNOTAVAIL) {
		t.Errorf("EADDRNOTAVAIL leaked")
	}
}

// TestApplyAfterInterfaceRecreated: refreshes use a cached interface; when
// the interface is deleted and made again (new index), the next Apply
// finds the new one instead of failing until the cache expires.
func TestApplyAfterInterfaceRecreated(t *testing.T) {
	w := newWorld(t)
	p := netip.MustParsePrefix("10.6.0.1/24")
	a := []Addr{{Prefix: p, Dev: w.dev}}
	if err := w.m.Apply(a, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	old, err := w.ns.NL.LinkByName(w.dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ns.NL.LinkDel(old); err != nil { // takes the peer with it
		t.Fatal(err)
	}
	nstest.Veth(t, w.ns, w.dev, w.ns, nstest.LinkName("vq"))
	if err := w.m.Apply(a, 2*time.Second); err != nil {
		t.Fatalf("Apply after the interface was recreated: %v", err)
	}
	if _, _, ok := w.lookup(t, p); !ok {
		t.Errorf("%v not on the recreated %s", p, w.dev)
	}
}
