package bench

import (
	"fmt"
	"strconv"
)

// sample is one measured value.
type sample struct {
	scen, metric, sys string
	v                 float64
}

var scenTitle = map[string]string{
	ScenSIGTERM:  "planned: SIGTERM of the master",
	ScenHandover: "planned: `vipctl handover`",
	ScenKill9:    "master kill -9",
	ScenSIGSTOP:  "master frozen (SIGSTOP 5 s)",
	ScenCut:      "master cut from its peers 6 s",
}

var scenShort = map[string]string{
	ScenSIGTERM:  "SIGTERM",
	ScenHandover: "vipctl handover",
	ScenKill9:    "kill -9",
	ScenSIGSTOP:  "SIGSTOP 5 s",
	ScenCut:      "cut 6 s",
}

// failoverRows are the failover rows per advert interval, in table order.
var failoverRows = []struct{ scen, metric string }{
	{ScenSIGTERM, MetricNoHolder},
	{ScenHandover, MetricNoHolder},
	{ScenKill9, MetricNoHolder},
	{ScenKill9, MetricSplitBrain},
	{ScenSIGSTOP, MetricNoHolder},
	{ScenSIGSTOP, MetricSplitBrain},
	{ScenCut, MetricSplitBrain},
}

// buildFailover turns the samples of one advert interval into rows.
func buildFailover(advert string, ss []sample) []*Measure {
	var out []*Measure
	for _, r := range failoverRows {
		m := &Measure{
			ID: r.scen + "/" + advert + "/" + r.metric, Scenario: r.scen, Metric: r.metric, Advert: advert,
			Title: fmt.Sprintf("%s, advert_int %s: %s", scenTitle[r.scen], advert, r.metric), Unit: UnitMS,
			Short: fmt.Sprintf("%s, adv %s: %s", scenShort[r.scen], advert, r.metric),
		}
		for _, s := range ss {
			if s.scen == r.scen && s.metric == r.metric {
				m.Add(s.sys, s.v)
			}
		}
		if r.metric == MetricNoHolder && (r.scen == ScenKill9 || r.scen == ScenSIGSTOP) {
			m.Note = "keepalived's 0 is not a takeover without a gap: its dead or frozen master keeps the VIP, so some node always holds it — see the split-brain row below. vipd's kernel fence removes the VIP from the dead node, so its no-holder time is real and its split brain is not."
		}
		if r.scen == ScenHandover {
			m.SetMissing(SysKeepalived, "keepalived has no planned-handover command; compare with its SIGTERM row.")
		}
		out = append(out, m)
	}
	return out
}

// buildFootprint turns footprint samples into an RSS and a CPU row per
// size; the arbiter column does not apply (no etcd on an idle node).
func buildFootprint(sizes []int, window string, ss []sample) []*Measure {
	var out []*Measure
	for _, n := range sizes {
		for _, metric := range []string{MetricRSS, MetricCPU} {
			unit, what := UnitMiB, "RSS"
			if metric == MetricCPU {
				unit, what = UnitCPUMin, "CPU per minute"
			}
			m := &Measure{ID: "footprint/" + strconv.Itoa(n) + "/" + metric, Scenario: ScenFootprint, Metric: metric, Size: n,
				Title: fmt.Sprintf("idle, %d VRRP instance(s) on one node: %s", n, what), Unit: unit}
			for _, s := range ss {
				if s.scen == ScenFootprint+strconv.Itoa(n) && s.metric == metric {
					m.Add(s.sys, s.v)
				}
			}
			if metric == MetricCPU && n == sizes[0] {
				m.Note = "CPU measured over " + window + " of idle after every VIP was installed (all instances MASTER, advert_int 1, no peers), summed over the process group (keepalived: parent + VRRP child); RSS at the end of that window. CPU time comes in 10 ms ticks, so 0.000 means less than one tick over the window."
			}
			out = append(out, m)
		}
	}
	return out
}

// buildCheckers makes the health-checking rows: the daemons (vipd's
// daemon, keepalived --check) and vipd's checker package alone; kaMissing
// says why keepalived has no figure.
func buildCheckers(n int, kaMissing string, ss []sample) []*Measure {
	var out []*Measure
	for _, v := range []struct{ scen, what string }{
		{CheckDaemon, "the daemons: vipd, keepalived --check"},
		{CheckLibrary, "vipd: lb/check in-process"},
	} {
		for _, metric := range []string{MetricCPU, MetricRSS} {
			unit, what := UnitCPUMin, "CPU per minute"
			if metric == MetricRSS {
				unit, what = UnitMiB, "RSS"
			}
			m := &Measure{ID: "checkers/" + v.scen + "/" + metric, Scenario: ScenCheckers, Metric: metric, Size: n, Unit: unit,
				Title: fmt.Sprintf("health checking %d TCP real servers, delay_loop 1 (%s): %s", n, v.what, what)}
			for _, s := range ss {
				if s.scen == v.scen && s.metric == metric {
					m.Add(s.sys, s.v)
				}
			}
			switch {
			case v.scen == CheckLibrary:
				m.SetMissing(SysKeepalived, "not applicable: keepalived's checkers cannot run outside its checker process.")
			case kaMissing != "":
				m.SetMissing(SysKeepalived, kaMissing)
			}
			out = append(out, m)
		}
	}
	return out
}
