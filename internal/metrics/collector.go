package metrics

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/internal/control"
)

// Source gives the status snapshot the collector exports. The daemon's
// control backend satisfies it through a small adapter.
type Source interface {
	Status(ctx context.Context) (control.Status, error)
}

// statusTimeout bounds one snapshot read: Collect has no context of its
// own, and Prometheus' default scrape timeout is 10s, so a stuck engine
// should cost a partial scrape (vipd_status_up 0), not a failed one.
const statusTimeout = 4 * time.Second

// Collector is a prometheus.Collector that reads a fresh control.Status at
// every scrape and turns it into const metrics. It keeps no counters of its
// own: the engine's cumulative stats are the source of truth, so the
// exported counters restart only when the instance does.
//
// Collect may run concurrently (parallel scrapes); the Collector is
// immutable after NewCollector, and the Source must allow concurrent calls.
type Collector struct {
	src  Source
	node string
	log  *slog.Logger
	now  func() time.Time // injected by tests; time.Now otherwise
	d    descs
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector of src's status for the node named node.
func NewCollector(src Source, node string, log *slog.Logger) *Collector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{src: src, node: node, log: log, now: time.Now, d: newDescs()}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.d.nodeInfo, prometheus.GaugeValue, 1, c.node)

	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st, err := c.src.Status(ctx)
	if err != nil {
		c.log.Warn("metrics: read status", "err", err)
		ch <- prometheus.MustNewConstMetric(c.d.statusUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.d.statusUp, prometheus.GaugeValue, 1)

	loaded := st.Reloaded
	if loaded.IsZero() {
		loaded = st.Started
	}
	if !loaded.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.d.reloadTime, prometheus.GaugeValue, unixSeconds(loaded))
	}

	if g := st.Gateway; g != nil {
		ch <- prometheus.MustNewConstMetric(c.d.gatewayUp, prometheus.GaugeValue, boolf(g.Healthy))
	}
	if len(st.Cluster) > 0 {
		count := map[string]int{"alive": 0, "dead": 0, "left": 0}
		for _, m := range st.Cluster {
			count[m.State]++
		}
		for state, n := range count {
			ch <- prometheus.MustNewConstMetric(c.d.members, prometheus.GaugeValue, float64(n), state)
		}
	}

	now := c.now()
	for i := range st.Instances {
		c.collectInstance(ch, &st.Instances[i], now)
	}
	if st.LB != nil {
		c.collectLB(ch, st.LB)
	}
}

func (c *Collector) collectLB(ch chan<- prometheus.Metric, lb *control.LBStatus) {
	ch <- prometheus.MustNewConstMetric(c.d.lbOK, prometheus.GaugeValue, boolf(lb.Error == "" && !lb.Applied.IsZero()), lb.Dataplane)
	for _, vs := range lb.VirtualServers {
		ch <- prometheus.MustNewConstMetric(c.d.lbQuorum, prometheus.GaugeValue, boolf(vs.Quorum), vs.Name)
		for _, rs := range vs.RealServers {
			ch <- prometheus.MustNewConstMetric(c.d.rsUp, prometheus.GaugeValue, boolf(rs.Alive), vs.Name, rs.Addr)
			w := 0
			if rs.InTable {
				w = rs.Weight
			}
			ch <- prometheus.MustNewConstMetric(c.d.rsWeight, prometheus.GaugeValue, float64(w), vs.Name, rs.Addr)
			for i, ck := range rs.Checkers {
				ch <- prometheus.MustNewConstMetric(c.d.checkerUp, prometheus.GaugeValue, boolf(ck.Up), vs.Name, rs.Addr,
					ck.Kind+"#"+strconv.Itoa(i+1))
			}
		}
	}
}

func (c *Collector) collectInstance(ch chan<- prometheus.Metric, in *control.InstanceStatus, now time.Time) {
	id := []string{in.Name, in.Interface, strconv.Itoa(in.VRID)}
	with := func(extra ...string) []string { return append(slices.Clip(id), extra...) }
	gauge := func(d *prometheus.Desc, v float64, labels []string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels []string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(c.d.instanceInfo, 1, with(strconv.Itoa(in.Version), in.SyncGroup))
	for _, s := range states {
		gauge(c.d.state, boolf(in.State == s), with(s))
	}
	if !slices.Contains(states, in.State) {
		// A state this package does not know of (a newer engine): export
		// it rather than hide it behind four zeros.
		gauge(c.d.state, 1, with(in.State))
	}
	gauge(c.d.priority, float64(in.Priority), id)
	gauge(c.d.basePriority, float64(in.BasePriority), id)
	gauge(c.d.advertInterval, in.AdvertInt.Seconds(), id)

	counter(c.d.sent, in.Stats.AdvertsSent, id)
	counter(c.d.received, in.Stats.AdvertsReceived, id)
	counter(c.d.transitions, in.Stats.Transitions, id)
	counter(c.d.installErrors, in.Stats.InstallErrors, id)
	for _, tc := range in.Stats.ByTransition {
		counter(c.d.transitionsByPair, tc.Count, with(tc.From, tc.To))
	}
	for reason, n := range in.Stats.Dropped {
		counter(c.d.dropped, n, with(reason))
	}
	if !in.Last.At.IsZero() {
		gauge(c.d.lastTransition, unixSeconds(in.Last.At), id)
	}

	fence := remaining(in.FenceUntil, now)
	gauge(c.d.vipsHeld, boolf(in.State == "MASTER" && fence > 0), id)
	gauge(c.d.fenceRemaining, fence, id)

	if a := in.Arbiter; a != nil {
		unit := with(a.Unit)
		gauge(c.d.granted, boolf(a.Granted), unit)
		var token, lease float64
		if a.Granted {
			token, lease = float64(a.Token), remaining(a.ValidUntil, now)
		}
		gauge(c.d.token, token, unit)
		gauge(c.d.lease, lease, unit)
		counter(c.d.denials, a.Denials, unit)
		counter(c.d.revocations, a.Revocations, unit)
		counter(c.d.conflicts, a.Conflicts, unit)
	}

	for _, t := range in.Trackers {
		l := with(t.Name, t.Kind)
		gauge(c.d.trackerKnown, boolf(t.Known), l)
		gauge(c.d.trackerOK, boolf(t.Known && t.OK), l)
	}
}

// remaining is the time from now until t in seconds, clamped at 0: a
// deadline in the past (or none) leaves nothing, and a negative "remaining"
// would read as a bug in alert expressions such as `< 1`.
func remaining(t, now time.Time) float64 {
	if t.IsZero() || !t.After(now) {
		return 0
	}
	return t.Sub(now).Seconds()
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
