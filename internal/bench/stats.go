package bench

import (
	"fmt"
	"math"
	"slices"
)

// Systems compared, in table column order. "vipd" is vipd with `arbiter
// off` (plain VRRP, as keepalived); "vipd-arbiter" gates the VIP with the
// etcd arbiter.
const (
	SysKeepalived  = "keepalived"
	SysVipd        = "vipd"
	SysVipdArbiter = "vipd-arbiter"
)

// Systems lists the compared systems in column order.
var Systems = []string{SysKeepalived, SysVipd, SysVipdArbiter}

// Summary is the median and range of one system's samples.
type Summary struct {
	N                int
	Median, Min, Max float64
}

// Summarize returns the median (the mean of the two middle values for an
// even count) and the range; the zero Summary for no samples.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{N: n, Median: med, Min: s[0], Max: s[n-1]}
}

// Ratio is vipd's median over keepalived's: below 1 vipd is better (every
// metric here is "lower is better"). ok is false when it is undefined
// (keepalived's median is 0 or either side has no samples).
func Ratio(vipd, keepalived Summary) (r float64, ok bool) {
	if vipd.N == 0 || keepalived.N == 0 || keepalived.Median == 0 {
		return 0, false
	}
	return vipd.Median / keepalived.Median, true
}

// Measure is one row of the table: a metric of a scenario, with each
// system's samples.
type Measure struct {
	ID       string // stable key: scenario/advert/metric
	Scenario string // one of the Scen* constants
	Metric   string // one of the Metric* constants
	Advert   string // advert_int as written ("1", "0.1"); "" if not a VRRP timing row
	Size     int    // instances or real servers, for footprint rows
	Title    string
	Short    string // title for the plot ("" = Title)
	Unit     string // one of the Unit* constants
	Values   map[string][]float64
	// Missing explains a system with no samples ("" = not applicable).
	Missing map[string]string
	Note    string
}

// Scenarios.
const (
	ScenSIGTERM    = "sigterm"
	ScenHandover   = "handover"
	ScenKill9      = "kill9"
	ScenSIGSTOP    = "sigstop"
	ScenCut        = "cut"
	ScenFootprint  = "footprint"
	ScenConfigLoad = "configload"
	ScenCheckers   = "checkers"
)

// Metrics.
const (
	MetricNoHolder   = "no-holder"
	MetricSplitBrain = "split-brain"
	MetricRSS        = "rss"
	MetricCPU        = "cpu"
	MetricLoad       = "load"
)

// Units.
const (
	UnitMS     = "ms"
	UnitMiB    = "MiB"
	UnitCPUMin = "CPU s/min"
)

// Add appends samples of sys.
func (m *Measure) Add(sys string, v ...float64) {
	if m.Values == nil {
		m.Values = map[string][]float64{}
	}
	m.Values[sys] = append(m.Values[sys], v...)
}

// SetMissing records why sys has no samples.
func (m *Measure) SetMissing(sys, why string) {
	if m.Missing == nil {
		m.Missing = map[string]string{}
	}
	m.Missing[sys] = why
}

// Summary of sys's samples.
func (m *Measure) Summary(sys string) Summary { return Summarize(m.Values[sys]) }

// noiseFloor is the smallest difference of medians that counts as vipd
// being behind: the observer samples every 5 ms, so failover times closer
// than a few samples are a tie; a config load is timed directly.
func noiseFloor(m *Measure) float64 {
	switch m.Unit {
	case UnitMS:
		if m.Scenario == ScenConfigLoad {
			return 2
		}
		return 20
	case UnitMiB:
		return 0.5
	case UnitCPUMin:
		return 0.02
	}
	return 0
}

// Behind reports whether sys's median is worse than keepalived's by more
// than 10 % and more than the unit's noise floor.
func (m *Measure) Behind(sys string) bool {
	v, k := m.Summary(sys), m.Summary(SysKeepalived)
	if v.N == 0 || k.N == 0 {
		return false
	}
	d := v.Median - k.Median
	return d > noiseFloor(m) && v.Median > k.Median*1.1
}

// format renders a value in the unit's precision.
func format(unit string, v float64) string {
	switch unit {
	case UnitMS:
		return fmt.Sprintf("%.0f", v)
	case UnitMiB:
		return fmt.Sprintf("%.1f", v)
	case UnitCPUMin:
		if v < 0.1 {
			return fmt.Sprintf("%.3f", v)
		}
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%g", v)
}

// Cell renders a summary as "median (min–max)", or just the value for one
// sample.
func Cell(unit string, s Summary) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 || s.Min == s.Max {
		return format(unit, s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", format(unit, s.Median), format(unit, s.Min), format(unit, s.Max))
}

// RatioCell renders vipd/keepalived for the table.
func RatioCell(vipd, keepalived Summary) string {
	if vipd.N == 0 || keepalived.N == 0 {
		return "—"
	}
	r, ok := Ratio(vipd, keepalived)
	if !ok {
		if vipd.Median == 0 {
			return "= (both 0)"
		}
		return "∞ (keepalived 0)"
	}
	if math.Abs(r) >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}
