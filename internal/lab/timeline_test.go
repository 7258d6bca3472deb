package lab

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// cmpOpts compares addresses by value and treats nil and empty holder lists alike.
var cmpOpts = cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

func TestRecorder(t *testing.T) {
	vip := netip.MustParseAddr("10.99.7.200")
	other := netip.MustParseAddr("10.99.7.201")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Samples every 10ms (one late one), holders of vip per sample.
	samples := []struct {
		ms      int
		holders []string
	}{
		{0, nil},                         // start-up: not an outage
		{10, nil},                        //
		{20, []string{"n1"}},             // first held at 20
		{30, []string{"n1"}},             //
		{40, []string{"n2", "n1", "n1"}}, // split brain 40-60 (unsorted, duplicate)
		{50, []string{"n1", "n2"}},
		{60, []string{"n2"}},
		{70, nil}, // outage 70-95
		{95, nil}, // late sample: gap 25ms
		{100, []string{"n3"}},
		{110, []string{"n3"}},
	}
	r := newRecorder([]netip.Addr{vip, other}, 10*time.Millisecond)
	for _, s := range samples {
		r.add(at(s.ms), map[netip.Addr][]string{vip: s.holders})
	}
	if diff := cmp.Diff([]string{"n3"}, r.holders(vip)); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
	rep := r.report()
	got := rep.VIP(vip)
	want := VIPReport{
		VIP: vip,
		Spans: []Span{
			{Start: at(0), End: at(20), Holders: []string{}},
			{Start: at(20), End: at(40), Holders: []string{"n1"}},
			{Start: at(40), End: at(60), Holders: []string{"n1", "n2"}},
			{Start: at(60), End: at(70), Holders: []string{"n2"}},
			{Start: at(70), End: at(100), Holders: []string{}},
			{Start: at(100), End: at(110), Holders: []string{"n3"}},
		},
		FirstHeld:  at(20),
		SplitBrain: 20 * time.Millisecond,
		NoHolder:   30 * time.Millisecond,
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("VIP report (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"samples", time.Duration(rep.Samples), time.Duration(len(samples))},
		{"max gap", rep.MaxGap, 25 * time.Millisecond},
		{"total split brain", rep.SplitBrain, 20 * time.Millisecond},
		{"total no holder", rep.NoHolder, 30 * time.Millisecond},
		{"unheld after 0", got.UnheldAfter(at(0)), 50 * time.Millisecond},
		{"unheld after 80", got.UnheldAfter(at(80)), 20 * time.Millisecond},
		{"unheld after 110", got.UnheldAfter(at(110)), 0},
		{"gap after 0", got.Gap(at(0)), 20 * time.Millisecond}, // the start-up span starts at 0
		{"gap after 1", got.Gap(at(1)), 30 * time.Millisecond},
		{"gap after 70", got.Gap(at(70)), 30 * time.Millisecond},
		{"gap after 71", got.Gap(at(71)), 0}, // started before: not counted
		{"never held", rep.VIP(other).NoHolder, 0},
		{"never held unheld", rep.VIP(other).UnheldAfter(at(0)), 110 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		after int
		want  []string
	}{{0, []string{"n1", "n2", "n3"}}, {60, []string{"n2", "n3"}}, {70, []string{"n3"}}, {110, nil}} {
		if diff := cmp.Diff(tc.want, got.HeldBy(at(tc.after))); diff != "" {
			t.Errorf("held by after %d ms (-want +got):\n%s", tc.after, diff)
		}
	}
	for _, tc := range []struct{ after, want int }{{0, 3}, {40, 2}, {59, 2}, {60, 1}, {100, 0}} {
		if got := got.Moves(at(tc.after)); got != tc.want {
			t.Errorf("moves after %d ms = %d, want %d", tc.after, got, tc.want)
		}
	}
	s := rep.String()
	for _, w := range []string{"11 samples", "10.99.7.200", "20.0ms", "30.0ms", "n1,n2", "(nobody)"} {
		if !strings.Contains(s, w) {
			t.Errorf("String() lacks %q:\n%s", w, s)
		}
	}
	t.Logf("\n%s", s)
}

func TestRecorderEmpty(t *testing.T) {
	vip := netip.MustParseAddr("10.99.7.200")
	rep := newRecorder([]netip.Addr{vip}, time.Millisecond).report()
	if diff := cmp.Diff(VIPReport{VIP: vip}, rep.VIP(vip), cmpOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if g := rep.VIP(vip).Gap(time.Time{}); g != 0 {
		t.Errorf("Gap = %v, want 0", g)
	}
	_ = rep.String()
}
