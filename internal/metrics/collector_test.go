package metrics

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vipd/vipd/internal/control"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fakeSource returns a fixed status, and checks the collector bounds the
// read with a deadline.
type fakeSource struct {
	st  control.Status
	err error

	noDeadline bool // set when Status was called without a deadline
}

func (f *fakeSource) Status(ctx context.Context) (control.Status, error) {
	if _, ok := ctx.Deadline(); !ok {
		f.noDeadline = true
	}
	return f.st, f.err
}

var _ Source = (*fakeSource)(nil)

var now = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

// fixture covers: a gated MASTER holding its VIPs, a BACKUP denied by the
// arbiter with an unknown tracker, a MASTER whose fence lapsed and an
// ungated instance in a state this package does not know.
func fixture() control.Status {
	return control.Status{
		Node:     "node-a",
		Started:  now.Add(-time.Hour),
		Reloaded: now.Add(-10 * time.Minute),
		Gateway:  &control.GatewayStatus{Healthy: true},
		Cluster:  []control.ClusterMember{{Node: "node-a", State: "alive"}, {Node: "node-b", State: "alive"}, {Node: "node-c", State: "dead"}},
		Instances: []control.InstanceStatus{
			{
				Name: "VI_1", Interface: "eth0", VRID: 51, Version: 3, State: "MASTER",
				Priority: 150, BasePriority: 100, AdvertInt: time.Second,
				VIPs: []string{"192.0.2.10/24"}, SyncGroup: "G1",
				Trackers: []control.TrackerStatus{
					{Name: "chk_http", Kind: "script", Known: true, OK: true, Weight: 50},
					{Name: "eth1", Kind: "interface", Known: true, OK: false, Weight: -20},
				},
				Last:       control.Transition{From: "BACKUP", To: "MASTER", Reason: "master down", At: now.Add(-90 * time.Second)},
				FenceUntil: now.Add(2500 * time.Millisecond),
				Arbiter:    &control.ArbiterStatus{Unit: "group:G1", Granted: true, Token: 42, ValidUntil: now.Add(8 * time.Second)},
				Stats: control.InstanceStats{
					AdvertsSent: 1234, AdvertsReceived: 17, Transitions: 3,
					ByTransition: []control.TransitionCount{{From: "INIT", To: "BACKUP", Count: 1}, {From: "BACKUP", To: "MASTER", Count: 2}},
					Dropped:      map[string]uint64{"auth": 3, "ttl": 1},
				},
			},
			{
				Name: "VI_2", Interface: "eth1", VRID: 52, Version: 2, State: "BACKUP",
				Priority: 90, BasePriority: 90, AdvertInt: 3 * time.Second,
				Trackers: []control.TrackerStatus{{Name: "/run/vipd/down", Kind: "file"}},
				Last:     control.Transition{From: "INIT", To: "BACKUP", Reason: "startup", At: now.Add(-time.Hour)},
				Arbiter:  &control.ArbiterStatus{Unit: "VI_2", Granted: false, Holder: "node-b", Reason: "held by node-b"},
				Stats:    control.InstanceStats{AdvertsReceived: 1200, Transitions: 1, Dropped: map[string]uint64{}},
			},
			{
				Name: "VI_3", Interface: "eth0", VRID: 53, Version: 3, State: "MASTER",
				Priority: 100, BasePriority: 100, AdvertInt: 100 * time.Millisecond,
				FenceUntil: now.Add(-time.Second),
				Stats:      control.InstanceStats{AdvertsSent: 5, Transitions: 2},
			},
			{
				Name: "VI_4", Interface: "eth2", VRID: 54, Version: 3, State: "STOP",
				Priority: 100, BasePriority: 100, AdvertInt: time.Second,
			},
		},
		LB: &control.LBStatus{Dataplane: "nftables", Applied: now.Add(-time.Second), VirtualServers: []control.VirtualServerStatus{{
			Name: "192.0.2.10:80/TCP", Algo: "wrr", Kind: "NAT", Quorum: true,
			RealServers: []control.RealServerStatus{
				{Addr: "192.0.2.21:80", Alive: true, Weight: 3, InTable: true, Checkers: []control.CheckerStatus{{Kind: "HTTP_GET", Up: true, Detail: "status 200"}}},
				{Addr: "192.0.2.22:80", Alive: false, InTable: true, Checkers: []control.CheckerStatus{
					{Kind: "TCP_CHECK", Up: true, Detail: "connected"}, {Kind: "MISC_CHECK", Up: false, Detail: "exit 1", Failures: 2}}},
			},
		}}},
	}
}

func newTestCollector(src Source) *Collector {
	c := NewCollector(src, "node-a", nil)
	c.now = func() time.Time { return now }
	return c
}

// exposition gathers g and renders it in the text format, as /metrics does.
func exposition(t *testing.T, g prometheus.Gatherer) ([]*dto.MetricFamily, string) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatalf("render %s: %v", mf.GetName(), err)
		}
	}
	return mfs, b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("exposition differs from %s (-want +got):\n%s", path, diff)
	}
}

func TestCollectorGolden(t *testing.T) {
	tests := []struct {
		name string
		st   control.Status
		err  error
	}{
		{name: "full", st: fixture()},
		{name: "no_instances", st: control.Status{Node: "node-a", Started: now.Add(-time.Minute)}},
		{name: "status_error", err: errors.New("control socket: connection refused")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{st: tt.st, err: tt.err}
			reg := prometheus.NewRegistry()
			if err := reg.Register(newTestCollector(src)); err != nil {
				t.Fatal(err)
			}
			_, got := exposition(t, reg)
			golden(t, tt.name, got)
			if src.noDeadline {
				t.Error("Status was called without a deadline")
			}
		})
	}
}

// TestCollectorValues spells out the derived values the golden file holds,
// so a wrong -update is caught by reading this table, not a 100-line diff.
func TestCollectorValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newTestCollector(&fakeSource{st: fixture()}))
	mfs, _ := exposition(t, reg)

	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{NameInstanceState, map[string]string{LabelInstance: "VI_1", LabelState: "MASTER"}, 1},
		{NameInstanceState, map[string]string{LabelInstance: "VI_1", LabelState: "BACKUP"}, 0},
		{NameInstanceState, map[string]string{LabelInstance: "VI_4", LabelState: "STOP"}, 1},
		{NameVIPsHeld, map[string]string{LabelInstance: "VI_1"}, 1},
		{NameVIPsHeld, map[string]string{LabelInstance: "VI_2"}, 0}, // BACKUP
		{NameVIPsHeld, map[string]string{LabelInstance: "VI_3"}, 0}, // fence lapsed
		{NameFenceRemaining, map[string]string{LabelInstance: "VI_1"}, 2.5},
		{NameFenceRemaining, map[string]string{LabelInstance: "VI_3"}, 0}, // clamped
		{NameArbiterGranted, map[string]string{LabelInstance: "VI_1", LabelUnit: "group:G1"}, 1},
		{NameArbiterToken, map[string]string{LabelInstance: "VI_1"}, 42},
		{NameArbiterLease, map[string]string{LabelInstance: "VI_1"}, 8},
		{NameArbiterGranted, map[string]string{LabelInstance: "VI_2", LabelUnit: "VI_2"}, 0},
		{NameArbiterLease, map[string]string{LabelInstance: "VI_2"}, 0},
		{NameAdvertsDropped, map[string]string{LabelInstance: "VI_1", LabelReason: "auth"}, 3},
		{NameAdvertsSent, map[string]string{LabelInstance: "VI_1", LabelVRID: "51", LabelInterface: "eth0"}, 1234},
		{NameAdvertInterval, map[string]string{LabelInstance: "VI_3"}, 0.1},
		{NamePriority, map[string]string{LabelInstance: "VI_1"}, 150},
		{NameBasePriority, map[string]string{LabelInstance: "VI_1"}, 100},
		{NameTrackerOK, map[string]string{LabelInstance: "VI_1", LabelTracker: "eth1", LabelKind: "interface"}, 0},
		{NameTrackerOK, map[string]string{LabelInstance: "VI_1", LabelTracker: "chk_http"}, 1},
		{NameTrackerKnown, map[string]string{LabelInstance: "VI_2", LabelTracker: "/run/vipd/down"}, 0},
		{NameConfigReloadTime, nil, float64(now.Add(-10 * time.Minute).Unix())},
		{NameStatusUp, nil, 1},
		{NameNodeInfo, map[string]string{"node": "node-a"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.metric+"/"+tt.labels[LabelInstance]+tt.labels[LabelState]+tt.labels[LabelTracker], func(t *testing.T) {
			got, ok := value(mfs, tt.metric, tt.labels)
			if !ok {
				t.Fatalf("no series %s%v", tt.metric, tt.labels)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s%v (-want +got):\n%s", tt.metric, tt.labels, diff)
			}
		})
	}

	// Series that must not exist.
	absent := []struct {
		metric string
		labels map[string]string
	}{
		{NameArbiterGranted, map[string]string{LabelInstance: "VI_3"}},                    // not gated
		{NameLastTransitionTime, map[string]string{LabelInstance: "VI_4"}},                // never transitioned
		{NameAdvertsDropped, map[string]string{LabelInstance: "VI_2"}},                    // empty map
		{NameInstanceState, map[string]string{LabelInstance: "VI_1", LabelState: "STOP"}}, // only for an unknown current state
	}
	for _, a := range absent {
		if v, ok := value(mfs, a.metric, a.labels); ok {
			t.Errorf("unexpected series %s%v = %v", a.metric, a.labels, v)
		}
	}
}

// value finds the first series of metric whose labels include want.
func value(mfs []*dto.MetricFamily, metric string, want map[string]string) (float64, bool) {
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestLint runs promlint (what testutil.CollectAndLint does) over
// everything vipd itself exports: the collector on the full fixture and
// vipd_build_info. The Go and process collectors are upstream's.
func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, newTestCollector(&fakeSource{st: fixture()}), "v0.0.0-test"); err != nil {
		t.Fatal(err)
	}
	mfs, _ := exposition(t, reg)
	var ours []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "vipd_") {
			ours = append(ours, mf)
		}
	}
	if want := len(newDescs().all()) + 1; len(ours) != want {
		t.Errorf("linting %d vipd_ families, want every descriptor plus build info (%d)", len(ours), want)
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestNamesDocumented keeps docs/metrics.md in step with the code.
func TestNamesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	d := newDescs()
	names := []string{NameBuildInfo}
	for _, desc := range d.all() {
		// Desc has no name accessor; its String form starts with fqName: "name".
		s := desc.String()
		i := strings.Index(s, `fqName: "`) + len(`fqName: "`)
		names = append(names, s[i:i+strings.Index(s[i:], `"`)])
	}
	for _, n := range names {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/metrics.md does not document `%s`", n)
		}
	}
}
