package lab

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestObserverSplitBrain(t *testing.T) {
	requireRoot(t)
	l := ForTest(t, Options{Nodes: 3})
	n1, n2 := l.Nodes[0], l.Nodes[1]
	vip := l.Addr4(200)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	o := NewObserver(l, []netip.Addr{vip}, 0)
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	defer o.Stop()
	if h := o.Holders(vip); len(h) != 0 {
		t.Fatalf("holders before any add = %v", h)
	}
	addAddr(t, n1, vip)
	if err := o.WaitHolder(ctx, vip, "n1"); err != nil {
		t.Fatal(err)
	}
	addAddr(t, n2, vip)
	if err := o.WaitHolder(ctx, vip, "n2"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a split brain long enough to sample many times
	delAddr(t, n1, vip)
	if err := o.WaitOnlyHolder(ctx, vip, "n2"); err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	delAddr(t, n2, vip)
	if err := o.WaitNoHolder(ctx, vip); err != nil {
		t.Fatal(err)
	}
	rep := o.Stop()
	t.Logf("\n%s", rep)
	if err := o.Err(); err != nil {
		t.Errorf("sampling error: %v", err)
	}

	v := rep.VIP(vip)
	var seq [][]string
	var total, split, unheldTail time.Duration
	for i, s := range v.Spans {
		seq = append(seq, s.Holders)
		total += s.Duration()
		if len(s.Holders) >= 2 {
			split += s.Duration()
		}
		if i > 0 && !s.Start.Equal(v.Spans[i-1].End) {
			t.Errorf("span %d starts at %v, previous ended at %v: not contiguous", i, s.Start, v.Spans[i-1].End)
		}
	}
	if diff := cmp.Diff([][]string{nil, {"n1"}, {"n1", "n2"}, {"n2"}, nil}, seq, cmpOpts); diff != "" {
		t.Fatalf("holder sequence (-want +got):\n%s", diff)
	}
	unheldTail = v.Spans[4].Duration()
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"spans cover the run", total, rep.End.Sub(rep.Start)},
		{"split brain is the two-holder span", v.SplitBrain, split},
		{"split brain total", rep.SplitBrain, v.SplitBrain},
		{"no holder counts only after first held", v.NoHolder, unheldTail},
		{"gap after release", v.Gap(released), unheldTail},
		{"gap via observer", o.Gap(vip, released), unheldTail},
		{"unheld from start", v.UnheldAfter(rep.Start), v.Spans[0].Duration() + unheldTail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	if v.SplitBrain <= 0 {
		t.Errorf("SplitBrain = %v, want > 0", v.SplitBrain)
	}
	if !v.FirstHeld.Equal(v.Spans[1].Start) {
		t.Errorf("FirstHeld %v, want start of the first held span %v", v.FirstHeld, v.Spans[1].Start)
	}
	t.Logf("split brain %v, samples %d, max gap %v", v.SplitBrain, rep.Samples, rep.MaxGap)

	if err := o.WaitHolder(ctx, vip, "n1"); !errors.Is(err, ErrObserverStopped) {
		t.Errorf("WaitHolder after Stop = %v, want ErrObserverStopped", err)
	}
}

func TestObserverIPv6AndClose(t *testing.T) {
	requireRoot(t)
	l, err := New(t.Context(), Options{Nodes: 2, IPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	vip4, vip6 := l.Addr4(201), l.Addr6(0x201)
	o := NewObserver(l, []netip.Addr{vip4, vip6}, time.Millisecond)
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addAddr(t, l.Nodes[1], vip6)
	got, err := o.WaitAnyHolder(ctx, vip6)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"n2"}, got); diff != "" {
		t.Errorf("holders of %v (-want +got):\n%s", vip6, diff)
	}
	if h := o.Holders(vip4); len(h) != 0 {
		t.Errorf("holders of %v = %v, want none", vip4, h)
	}

	// A waiter blocked when the lab closes is released, not leaked.
	errc := make(chan error, 1)
	go func() { errc <- o.WaitHolder(ctx, vip4, "n1") }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrObserverStopped) {
		t.Errorf("waiter after Close = %v, want ErrObserverStopped", err)
	}
	rep := o.Stop() // already stopped by Close: same report
	if rep.Samples == 0 || len(rep.VIP(vip6).Spans) != 2 {
		t.Errorf("report after Close: %d samples, spans %v", rep.Samples, rep.VIP(vip6).Spans)
	}
}

// BenchmarkObserverSample measures one sample of a 3-node lab: three
// netlink address dumps and the bookkeeping.
func BenchmarkObserverSample(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to create network namespaces")
	}
	l := ForTest(b, Options{Nodes: 3})
	vip := l.Addr4(200)
	o := NewObserver(l, []netip.Addr{vip}, time.Hour) // the ticker never fires
	if err := o.Start(); err != nil {
		b.Fatal(err)
	}
	defer o.Stop()
	var hs []*netlink.Handle
	for _, n := range l.Nodes {
		h, err := netlink.NewHandleAt(n.ref.ns, unix.NETLINK_ROUTE)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		hs = append(hs, h)
	}
	b.ResetTimer()
	for b.Loop() {
		o.mu.Lock()
		o.sampleLocked(hs)
		o.mu.Unlock()
	}
}
