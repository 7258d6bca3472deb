package vrrp

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/clock"
)

// recordHandler keeps the records logged to it.
type recordHandler struct {
	mu   sync.Mutex
	recs []logLine
}

type logLine struct {
	Level      slog.Level
	Msg        string
	Reason     string
	Suppressed uint64
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	l := logLine{Level: r.Level, Msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "reason":
			l.Reason = a.Value.String()
		case "suppressed":
			l.Suppressed = a.Value.Uint64()
		}
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, l)
	h.mu.Unlock()
	return nil
}

func (h *recordHandler) lines() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logLine(nil), h.recs...)
}

func TestDropCounterRateLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type ev struct {
		at     time.Duration // since t0
		reason DropReason
		warn   bool
	}
	const dropped, accepted = "vrrp advert dropped", "vrrp advert accepted with a mismatch"
	tests := []struct {
		name      string
		every     time.Duration
		events    []ev
		wantLog   []logLine
		wantDrops map[DropReason]uint64
		wantWarns map[DropReason]uint64
	}{
		{
			name:  "once per interval per reason, with suppressed count",
			every: 10 * time.Second,
			events: []ev{
				{0, DropTTL, false},
				{1 * time.Second, DropTTL, false},
				{2 * time.Second, DropChecksum, false},
				{5 * time.Second, DropTTL, false},
				{10 * time.Second, DropTTL, false},
				{10 * time.Second, DropTTL, false},
				{25 * time.Second, DropTTL, false},
			},
			wantLog: []logLine{
				{slog.LevelInfo, dropped, "ttl", 0},
				{slog.LevelInfo, dropped, "checksum", 0},
				{slog.LevelInfo, dropped, "ttl", 2},
				{slog.LevelInfo, dropped, "ttl", 1},
			},
			wantDrops: map[DropReason]uint64{DropTTL: 6, DropChecksum: 1},
			wantWarns: map[DropReason]uint64{},
		},
		{
			name:  "other VRIDs log at debug",
			every: time.Second,
			events: []ev{
				{0, DropVRID, false},
			},
			wantLog:   []logLine{{slog.LevelDebug, dropped, "vrid", 0}},
			wantDrops: map[DropReason]uint64{DropVRID: 1},
			wantWarns: map[DropReason]uint64{},
		},
		{
			name:  "warnings are counted and limited apart from drops",
			every: time.Minute,
			events: []ev{
				{0, DropAddrCount, true},
				{time.Second, DropAddrCount, false},
				{2 * time.Second, DropAddrCount, true},
				{3 * time.Second, DropInterval, true},
			},
			wantLog: []logLine{
				{slog.LevelInfo, accepted, "addr_count", 0},
				{slog.LevelInfo, dropped, "addr_count", 0},
				{slog.LevelInfo, accepted, "interval", 0},
			},
			wantDrops: map[DropReason]uint64{DropAddrCount: 1},
			wantWarns: map[DropReason]uint64{DropAddrCount: 2, DropInterval: 1},
		},
		{
			name:  "no limit logs everything",
			every: 0,
			events: []ev{
				{0, DropAuth, false},
				{0, DropAuth, false},
			},
			wantLog: []logLine{
				{slog.LevelInfo, dropped, "auth", 0},
				{slog.LevelInfo, dropped, "auth", 0},
			},
			wantDrops: map[DropReason]uint64{DropAuth: 2},
			wantWarns: map[DropReason]uint64{},
		},
		{
			name:  "a clock stepping back does not silence a reason",
			every: time.Minute,
			events: []ev{
				{time.Hour, DropTTL, false},
				{time.Hour + time.Second, DropTTL, false},
				{0, DropTTL, false},
			},
			wantLog: []logLine{
				{slog.LevelInfo, dropped, "ttl", 0},
				{slog.LevelInfo, dropped, "ttl", 1},
			},
			wantDrops: map[DropReason]uint64{DropTTL: 3},
			wantWarns: map[DropReason]uint64{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &recordHandler{}
			clk := clock.NewFake(t0)
			c := NewDropCounter(slog.New(h), tc.every, WithDropClock(clk))
			rx := RxMeta{Src: peer4, Dst: GroupIPv4, TTL: 1, IfIndex: 2}
			for _, e := range tc.events {
				clk.Set(t0.Add(e.at)) // one case steps back
				err := dropf(e.reason, "test")
				if e.warn {
					c.Warn(err, rx)
				} else {
					c.Drop(err, rx)
				}
			}
			if diff := cmp.Diff(tc.wantLog, h.lines()); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDrops, c.Counts()); diff != "" {
				t.Errorf("Counts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarns, c.Warnings()); diff != "" {
				t.Errorf("Warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDropCounterNilLoggerAndError(t *testing.T) {
	c := NewDropCounter(nil, time.Second)
	c.Drop(nil, RxMeta{})
	c.Drop(dropf(DropType, "x"), RxMeta{})
	c.Warn(nil, RxMeta{})
	if diff := cmp.Diff(map[DropReason]uint64{DropType: 1}, c.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	snap := c.Counts()
	snap[DropType] = 100
	if got := c.Counts()[DropType]; got != 1 {
		t.Errorf("Counts is not a snapshot: mutating it changed the counter to %d", got)
	}
}

func TestDropCounterConcurrent(t *testing.T) {
	h := &recordHandler{}
	clk := clock.NewFake(time.Unix(0, 0))
	c := NewDropCounter(slog.New(h), time.Hour, WithDropClock(clk))
	const workers, each = 8, 500
	reasons := DropReasons()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c.Drop(dropf(reasons[(w+i)%len(reasons)], "x"), RxMeta{})
				_ = c.Counts()
			}
		})
	}
	wg.Wait()
	var total uint64
	for _, n := range c.Counts() {
		total += n
	}
	if total != workers*each {
		t.Errorf("counted %d drops, want %d", total, workers*each)
	}
	if got := len(h.lines()); got != len(reasons) {
		t.Errorf("logged %d lines, want one per reason (%d)", got, len(reasons))
	}
}

func TestDropReasonsDistinct(t *testing.T) {
	seen := map[DropReason]bool{}
	for _, r := range DropReasons() {
		if r == "" || seen[r] {
			t.Errorf("reason %q empty or repeated", r)
		}
		seen[r] = true
	}
}
