package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/lab"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{7}, Summary{N: 1, Median: 7, Min: 7, Max: 7}},
		{"odd unsorted", []float64{9, 1, 5}, Summary{N: 3, Median: 5, Min: 1, Max: 9}},
		{"even is mean of middle two", []float64{4, 1, 10, 2}, Summary{N: 4, Median: 3, Min: 1, Max: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if diff := cmp.Diff(tc.want, Summarize(tc.in)); diff != "" {
				t.Errorf("Summarize(%v) (-want +got):\n%s", tc.in, diff)
			}
			if diff := cmp.Diff(in, tc.in); diff != "" {
				t.Errorf("Summarize modified its input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRatioAndCells(t *testing.T) {
	s := func(v ...float64) Summary { return Summarize(v) }
	for _, tc := range []struct {
		name       string
		unit       string
		vipd, ka   Summary
		cell, rcel string
	}{
		{"faster", UnitMS, s(500, 520, 540), s(1000, 1100), "520 (500–540)", "0.50×"},
		{"slower", UnitMS, s(5000), s(500), "5000", "10×"},
		{"both zero", UnitMS, s(0, 0), s(0), "0", "= (both 0)"},
		{"keepalived zero", UnitMS, s(30), s(0), "30", "∞ (keepalived 0)"},
		{"no samples", UnitMS, Summary{}, s(1), "—", "—"},
		{"MiB", UnitMiB, s(10.26, 12), s(5.13), "11.1 (10.3–12.0)", "2.17×"},
		{"small CPU", UnitCPUMin, s(0.0123), s(0.5), "0.012", "0.02×"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Cell(tc.unit, tc.vipd); got != tc.cell {
				t.Errorf("Cell = %q, want %q", got, tc.cell)
			}
			if got := RatioCell(tc.vipd, tc.ka); got != tc.rcel {
				t.Errorf("RatioCell = %q, want %q", got, tc.rcel)
			}
		})
	}
	if r, ok := Ratio(Summarize([]float64{3}), Summarize([]float64{4})); !ok || r != 0.75 {
		t.Errorf("Ratio(3, 4) = %v, %v; want 0.75, true", r, ok)
	}
}

func TestBehind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		unit     string
		vipd, ka []float64
		want     bool
	}{
		{"much slower", UnitMS, []float64{5000}, []float64{3600}, true},
		{"within noise floor", UnitMS, []float64{15}, []float64{5}, false},
		{"within 10 %", UnitMS, []float64{1050}, []float64{1000}, false},
		{"faster", UnitMS, []float64{0}, []float64{4400}, false},
		{"behind from zero", UnitMS, []float64{100}, []float64{0}, true},
		{"bigger RSS", UnitMiB, []float64{20}, []float64{5}, true},
		{"no keepalived samples", UnitCPUMin, []float64{1}, nil, false},
		{"config load 10 ms slower", "load", []float64{30}, []float64{20}, true},
		{"config load 1 ms slower", "load", []float64{3}, []float64{2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Measure{Unit: tc.unit}
			if tc.unit == "load" {
				m = &Measure{Unit: UnitMS, Scenario: ScenConfigLoad}
			}
			m.Add(SysVipd, tc.vipd...)
			m.Add(SysKeepalived, tc.ka...)
			if got := m.Behind(SysVipd); got != tc.want {
				t.Errorf("Behind = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	spans := []lab.Span{
		{Start: at(0), End: at(100), Holders: []string{"n1"}},
		{Start: at(100), End: at(400), Holders: nil},
		{Start: at(400), End: at(900), Holders: []string{"n1", "n2"}},
		{Start: at(900), End: at(2000), Holders: []string{"n2"}},
	}
	for _, tc := range []struct {
		name          string
		from, to      int
		unheld, split time.Duration
	}{
		{"whole", 0, 2000, 300 * time.Millisecond, 500 * time.Millisecond},
		{"clipped both ends", 200, 600, 200 * time.Millisecond, 200 * time.Millisecond},
		{"before anything", 1000, 1500, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, s := Window(spans, at(tc.from), at(tc.to))
			if u != tc.unheld || s != tc.split {
				t.Errorf("Window = %v, %v; want %v, %v", u, s, tc.unheld, tc.split)
			}
		})
	}
}

func TestFailoverConf(t *testing.T) {
	plain := netip.MustParsePrefix("10.99.1.201/24")
	gated := netip.MustParsePrefix("10.99.1.200/24")
	want := `global_defs {
    router_id n1
    vrrp_version 3
}
arbiter {
    etcd {
        endpoints http://10.99.1.1:2379
        lease_ttl 5
    }
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    virtual_ipaddress {
        10.99.1.200/24 dev eth0
    }
}
vrrp_instance VI_PLAIN {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 150
    advert_int 0.1
    virtual_ipaddress {
        10.99.1.201/24 dev eth0
    }
    arbiter off
}
`
	got := FailoverConf{Router: "n1", Priority: 150, Advert: "0.1", Plain: plain, Arbiter: gated, Endpoints: "http://10.99.1.1:2379"}.String()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vipd conf (-want +got):\n%s", diff)
	}
	ka := FailoverConf{Router: "n2", Priority: 120, Advert: "1", Plain: plain}.String()
	for _, bad := range []string{"arbiter", "vrrp_version", "VI_1 "} {
		if strings.Contains(ka, bad) {
			t.Errorf("keepalived conf at advert_int 1 contains %q:\n%s", bad, ka)
		}
	}
}

func TestFootprintConf(t *testing.T) {
	for _, tc := range []struct{ n, ifaces int }{{1, 1}, {100, 1}, {250, 1}, {251, 2}, {1000, 4}} {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			c := FootprintConf(tc.n)
			if got := strings.Count(c, "vrrp_instance "); got != tc.n {
				t.Errorf("n=%d: %d instances", tc.n, got)
			}
			if got := FootprintIfaces(tc.n); got != tc.ifaces {
				t.Errorf("FootprintIfaces(%d) = %d, want %d", tc.n, got, tc.ifaces)
			}
			// Every (interface, VRID) pair and every VIP is distinct.
			seenVRID, seenVIP := map[string]bool{}, map[string]bool{}
			var iface string
			for line := range strings.SplitSeq(c, "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) == 2 && f[0] == "interface":
					iface = f[1]
				case len(f) == 2 && f[0] == "virtual_router_id":
					k := iface + "/" + f[1]
					if seenVRID[k] {
						t.Errorf("n=%d: VRID %s twice", tc.n, k)
					}
					seenVRID[k] = true
				case len(f) == 1 && strings.HasPrefix(f[0], "172.16."):
					if seenVIP[f[0]] {
						t.Errorf("n=%d: VIP %s twice", tc.n, f[0])
					}
					seenVIP[f[0]] = true
				}
			}
			if len(seenVRID) != tc.n || len(seenVIP) != tc.n {
				t.Errorf("n=%d: %d VRIDs, %d VIPs", tc.n, len(seenVRID), len(seenVIP))
			}
		})
	}
}

func TestCheckerConf(t *testing.T) {
	c := CheckerConf(3, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("127.0.0.1"), 20000)
	for _, want := range []string{"virtual_server 10.0.0.1 80 {", "delay_loop 1", "real_server 127.0.0.1 20000 {", "real_server 127.0.0.1 20002 {"} {
		if !strings.Contains(c, want) {
			t.Errorf("missing %q in:\n%s", want, c)
		}
	}
	if got := strings.Count(c, "TCP_CHECK"); got != 3 {
		t.Errorf("%d TCP_CHECKs, want 3", got)
	}
}

func sampleReport() *Report {
	ms := buildFailover("1", []sample{
		{ScenSIGTERM, MetricNoHolder, SysKeepalived, 530}, {ScenSIGTERM, MetricNoHolder, SysKeepalived, 540},
		{ScenSIGTERM, MetricNoHolder, SysVipd, 520}, {ScenSIGTERM, MetricNoHolder, SysVipdArbiter, 560},
		{ScenKill9, MetricNoHolder, SysKeepalived, 0}, {ScenKill9, MetricNoHolder, SysVipd, 0},
		{ScenKill9, MetricNoHolder, SysVipdArbiter, 5200},
		{ScenKill9, MetricSplitBrain, SysKeepalived, 4400}, {ScenKill9, MetricSplitBrain, SysVipd, 0},
	})
	ms = append(ms, buildFootprint([]int{1}, "60s", []sample{
		{ScenFootprint + "1", MetricRSS, SysKeepalived, 14}, {ScenFootprint + "1", MetricRSS, SysVipd, 20},
	})...)
	return &Report{Command: "./bin/vipbench", Started: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Runtime: time.Minute,
		Machine: []KV{{"CPU", "Test CPU"}}, Versions: []KV{{"vipd", "vipd dev"}}, Measures: ms, Plot: "b.png"}
}

func TestMarkdown(t *testing.T) {
	md := sampleReport().Markdown()
	for _, want := range []string{
		"Generated by cmd/vipbench",
		"`./bin/vipbench`",
		"| CPU | Test CPU |",
		"| planned: SIGTERM of the master, advert_int 1: no-holder | ms | 535 (530–540) | 520 | 560 | 0.97× | 1.05× |",
		"| master kill -9, advert_int 1: split-brain | ms | 4400 | 0 | — | 0.00× | — |",
		"| planned: `vipctl handover`, advert_int 1: no-holder | ms | n/a | — | — | — | — |",
		"| idle, 1 VRRP instance(s) on one node: RSS | MiB | 14.0 | 20.0 | — | 1.43× | — |",
		"![failover time distributions",
		"keepalived has no planned-handover command",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	behind := md[strings.Index(md, "## Where vipd is behind"):]
	for _, want := range []string{"master kill -9, advert_int 1: no-holder — vipd (arbiter)**", "etcd lease", "RSS — vipd (plain VRRP)**", "Plan:"} {
		if !strings.Contains(behind, want) {
			t.Errorf("behind section lacks %q:\n%s", want, behind)
		}
	}
	if strings.Contains(behind, "SIGTERM") {
		t.Errorf("behind section names the SIGTERM row, within 10 %%:\n%s", behind)
	}
}

func TestPlotPNG(t *testing.T) {
	ms := PlotMeasures(sampleReport().Measures)
	if len(ms) != 7 {
		t.Fatalf("%d plotted measures, want the 7 failover rows", len(ms))
	}
	var buf bytes.Buffer
	if err := WritePNG(&buf, ms, "test plot"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	w, h := PlotSize(len(ms))
	if got := img.Bounds().Size(); got.X != w || got.Y != h {
		t.Errorf("size %v, want %dx%d", got, w, h)
	}
	if w != 4*panelW || h != plotHeader+2*panelH {
		t.Errorf("PlotSize(7) = %d×%d, want two rows of four", w, h)
	}
	// Something was drawn in a keepalived colour.
	found := false
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && !found; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			c := sysColor[SysKeepalived]
			if r>>8 == uint32(c.R) && g>>8 == uint32(c.G) && bb>>8 == uint32(c.B) {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no keepalived-coloured pixel in the plot")
	}
}

func TestGlyphs(t *testing.T) {
	for r, g := range glyphs {
		for i, row := range g {
			if len(row) != 5 || strings.Trim(row, ".#") != "" {
				t.Errorf("glyph %q row %d = %q: want 5 of '.' or '#'", r, i, row)
			}
		}
	}
	for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:-+=/()%_" {
		if _, ok := glyphs[r]; !ok {
			t.Errorf("no glyph for %q", r)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 10, 7: 10, 11: 20, 450: 500, 4475: 5000, 5001: 10000, 100: 100} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestBuildFootprint(t *testing.T) {
	ms := buildFootprint([]int{1, 1000}, "60s", []sample{
		{ScenFootprint + "1000", MetricCPU, SysVipd, 3}, {ScenFootprint + "1000", MetricCPU, SysKeepalived, 1.5},
		{ScenFootprint + "1", MetricRSS, SysVipd, 20},
	})
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s %s %v", m.ID, m.Unit, RatioCell(m.Summary(SysVipd), m.Summary(SysKeepalived))))
	}
	want := []string{
		"footprint/1/rss MiB —",
		"footprint/1/cpu CPU s/min —",
		"footprint/1000/rss MiB —",
		"footprint/1000/cpu CPU s/min 2.00×",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestReportJSON: --from-json re-renders a saved report, so a report must
// survive a JSON round trip unchanged.
func TestReportJSON(t *testing.T) {
	r := sampleReport()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Markdown(), back.Markdown()); diff != "" {
		t.Errorf("markdown after a JSON round trip (-want +got):\n%s", diff)
	}
}

func TestBuildCheckers(t *testing.T) {
	ms := buildCheckers(1000, "no IPVS", []sample{
		{CheckDaemon, MetricCPU, SysVipd, 10}, {CheckLibrary, MetricCPU, SysVipd, 5}, {CheckLibrary, MetricRSS, SysVipd, 30},
	})
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s vipd=%s keepalived-missing=%v", m.ID, Cell(m.Unit, m.Summary(SysVipd)), m.Missing[SysKeepalived] != ""))
	}
	want := []string{
		`checkers/daemon/cpu vipd=10.00 keepalived-missing=true`,
		`checkers/daemon/rss vipd=— keepalived-missing=true`,
		`checkers/inprocess/cpu vipd=5.00 keepalived-missing=true`,
		`checkers/inprocess/rss vipd=30.0 keepalived-missing=true`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	md := (&Report{Measures: ms}).Markdown()
	if n := strings.Count(md, "no IPVS"); n != 1 {
		t.Errorf("the shared reason appears %d times in the notes, want once:\n%s", n, md)
	}
}
