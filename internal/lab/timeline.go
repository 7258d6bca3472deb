package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Span is a stretch of time during which the same set of nodes held a VIP.
// A span starts at the first sample that saw its holder set and ends at the
// first sample that saw a different one (or at the last sample), so the
// spans of a timeline are contiguous and their precision is the sampling
// interval (Report.MaxGap).
type Span struct {
	Start, End time.Time
	Holders    []string // node names, sorted; empty when nobody held the VIP
}

// Duration is how long the span lasted.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// VIPReport is the observed history of one VIP.
type VIPReport struct {
	VIP   netip.Addr
	Spans []Span
	// FirstHeld is when some node was first seen holding the VIP (zero if never).
	FirstHeld time.Time
	// SplitBrain is the total time two or more nodes held the VIP.
	SplitBrain time.Duration
	// NoHolder is the total time nobody held the VIP, counted only after
	// FirstHeld: the start-up time before the first master is not an outage.
	NoHolder time.Duration
}

// UnheldAfter is the total time nobody held the VIP from t on, whether or
// not it had been held before t.
func (r VIPReport) UnheldAfter(t time.Time) time.Duration {
	var d time.Duration
	for _, s := range r.Spans {
		if len(s.Holders) != 0 || !s.End.After(t) {
			continue
		}
		start := s.Start
		if start.Before(t) {
			start = t
		}
		d += s.End.Sub(start)
	}
	return d
}

// HeldBy lists (sorted) every node that held the VIP at some moment from t
// on: after a handover, who the VIP went to on its way.
func (r VIPReport) HeldBy(t time.Time) []string {
	var out []string
	for _, s := range r.Spans {
		if s.End.After(t) {
			for _, h := range s.Holders {
				if !slices.Contains(out, h) {
					out = append(out, h)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// Moves counts how often the VIP changed hands from t on: every span whose
// holders differ from the last non-empty holders before it (a VIP that
// goes unheld and comes back to the same node did not move).
func (r VIPReport) Moves(t time.Time) int {
	var last []string
	n := 0
	for _, s := range r.Spans {
		if len(s.Holders) == 0 {
			continue
		}
		if last != nil && !slices.Equal(last, s.Holders) && s.Start.After(t) {
			n++
		}
		last = s.Holders
	}
	return n
}

// Gap is the length of the first no-holder interval that starts at or
// after the given time: the takeover time after a fault injected then. It is
// zero if the VIP never went unheld after that time (for example because the
// new holder appeared before the old one vanished); an interval still open at
// the last sample counts up to that sample.
func (r VIPReport) Gap(after time.Time) time.Duration {
	for _, s := range r.Spans {
		if len(s.Holders) == 0 && !s.Start.Before(after) {
			return s.Duration()
		}
	}
	return 0
}

// Report is what an Observer saw.
type Report struct {
	Start, End time.Time
	Every      time.Duration // requested sampling interval
	Samples    int
	// MaxGap is the longest time between two consecutive samples: no
	// duration in the report is more precise than this.
	MaxGap time.Duration
	VIPs   []VIPReport
	// SplitBrain and NoHolder are the sums over VIPs.
	SplitBrain, NoHolder time.Duration
}

// VIP returns the history of one VIP (a zero VIPReport if it was not observed).
func (r Report) VIP(vip netip.Addr) VIPReport {
	for _, v := range r.VIPs {
		if v.VIP == vip {
			return v
		}
	}
	return VIPReport{VIP: vip}
}

// maxSpansShown bounds the timeline printed per VIP by String, so a flapping
// VIP does not bury the summary.
const maxSpansShown = 40

// String renders a summary table and each VIP's timeline, relative to Start.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "observer: %d samples every %v over %v (max gap %v)\n",
		r.Samples, r.Every, r.End.Sub(r.Start).Round(time.Millisecond), r.MaxGap.Round(time.Microsecond))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VIP\tsplit-brain\tno-holder\tchanges\tholders now")
	for _, v := range r.VIPs {
		now := "-"
		if n := len(v.Spans); n > 0 && len(v.Spans[n-1].Holders) > 0 {
			now = strings.Join(v.Spans[n-1].Holders, ",")
		}
		fmt.Fprintf(tw, "%v\t%v\t%v\t%d\t%s\n", v.VIP, ms(v.SplitBrain), ms(v.NoHolder), max(len(v.Spans)-1, 0), now)
	}
	tw.Flush()
	for _, v := range r.VIPs {
		fmt.Fprintf(&b, "%v timeline:\n", v.VIP)
		for i, s := range v.Spans {
			if i == maxSpansShown {
				fmt.Fprintf(&b, "  ... %d more\n", len(v.Spans)-i)
				break
			}
			who := "(nobody)"
			if len(s.Holders) > 0 {
				who = strings.Join(s.Holders, ",")
			}
			fmt.Fprintf(&b, "  +%-10v %-10v %s\n", ms(s.Start.Sub(r.Start)), ms(s.Duration()), who)
		}
	}
	return b.String()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// recorder turns samples into timelines. It is not safe for concurrent use;
// the Observer guards it with its mutex.
type recorder struct {
	start, last time.Time
	every       time.Duration
	samples     int
	maxGap      time.Duration
	vips        []netip.Addr
	spans       map[netip.Addr][]Span
	firstHeld   map[netip.Addr]time.Time
}

func newRecorder(vips []netip.Addr, every time.Duration) *recorder {
	return &recorder{
		every:     every,
		vips:      slices.Clone(vips),
		spans:     make(map[netip.Addr][]Span, len(vips)),
		firstHeld: make(map[netip.Addr]time.Time, len(vips)),
	}
}

// add records one sample taken at t: holders maps each VIP to the nodes
// holding it. Samples must come in time order.
func (r *recorder) add(t time.Time, holders map[netip.Addr][]string) {
	if r.samples == 0 {
		r.start = t
	} else if g := t.Sub(r.last); g > r.maxGap {
		r.maxGap = g
	}
	r.samples++
	r.last = t
	for _, vip := range r.vips {
		h := slices.Clone(holders[vip])
		slices.Sort(h)
		h = slices.Compact(h)
		if len(h) > 0 {
			if _, ok := r.firstHeld[vip]; !ok {
				r.firstHeld[vip] = t
			}
		}
		sp := r.spans[vip]
		if n := len(sp); n > 0 {
			sp[n-1].End = t
			if slices.Equal(sp[n-1].Holders, h) {
				continue
			}
		}
		r.spans[vip] = append(sp, Span{Start: t, End: t, Holders: h})
	}
}

// report summarises everything recorded so far.
func (r *recorder) report() Report {
	rep := Report{Start: r.start, End: r.last, Every: r.every, Samples: r.samples, MaxGap: r.maxGap}
	for _, vip := range r.vips {
		v := VIPReport{VIP: vip, FirstHeld: r.firstHeld[vip]}
		for _, s := range r.spans[vip] {
			s.Holders = slices.Clone(s.Holders)
			v.Spans = append(v.Spans, s)
			switch {
			case len(s.Holders) >= 2:
				v.SplitBrain += s.Duration()
			case len(s.Holders) == 0 && !v.FirstHeld.IsZero() && !s.Start.Before(v.FirstHeld):
				v.NoHolder += s.Duration()
			}
		}
		rep.SplitBrain += v.SplitBrain
		rep.NoHolder += v.NoHolder
		rep.VIPs = append(rep.VIPs, v)
	}
	return rep
}

// holders returns the holders of vip at the last sample.
func (r *recorder) holders(vip netip.Addr) []string {
	sp := r.spans[vip]
	if len(sp) == 0 {
		return nil
	}
	return slices.Clone(sp[len(sp)-1].Holders)
}
