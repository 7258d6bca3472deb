package track

import (
	"fmt"
	"strings"
	"time"
)

// Tracker kinds.
const (
	KindScript    = "script"
	KindInterface = "interface"
	KindFile      = "file"
)

// Priority limits (keepalived include/vrrp.h).
const (
	// PriorityOwner is the address owner's priority; trackers never change it.
	PriorityOwner = 255
	// maxEffective is the highest priority trackers can produce: they can
	// never lift a non-owner to owner (vrrp_set_effective_priority).
	maxEffective = PriorityOwner - 1
	// fileFault is keepalived's sentinel for a track_file in fault: products
	// are clamped to [-254, 253] and -254 means FAULT (vrrp_track.c).
	fileFault = -254
	fileMax   = 253
)

// Tracker is one tracking entry of an instance: a track_script,
// track_interface or track_file line, with the weight already resolved
// (an unweighted track_script entry takes the vrrp_script's weight; a
// track_file defaults to weight 1 — the config layer resolves both).
type Tracker struct {
	Name    string // vrrp_script name, interface name or track_file name
	Kind    string // KindScript, KindInterface or KindFile
	Weight  int
	Reverse bool
}

// Status is the latest observation of one tracked object.
type Status struct {
	Name  string
	Kind  string
	Known bool // a first result has arrived
	// OK is "script good" or "interface up". Unused for files.
	OK bool
	// Value is the number read from a track_file.
	Value int
	// Detail explains the last result: "exit 1", "timed_out", "missing"...
	Detail string
	// Since is when OK/Known/Value last changed.
	Since time.Time
}

// Effective returns the priority an instance advertises, whether its
// trackers put it in FAULT, and a human-readable reason naming what caused
// the fault or the adjustments (for example "chk_nginx failed (-20)").
//
// st is keyed by Tracker.Name. A status whose Kind is set and differs from
// the tracker's is ignored (treated as not yet known) rather than misapplied.
//
// The rules are keepalived's (vrrp_track.c):
//   - an address owner (base 255) keeps 255 whatever the trackers say, but
//     can still be put in FAULT by a weight-0 tracker;
//   - otherwise effective = clamp(base + adjustments, 1, 254);
//   - script/interface, weight 0: FAULT while bad/down (reverse: while
//     good/up). A weight-0 tracker with no result yet is also FAULT
//     ("waiting for first result"), so the instance stays out of MASTER
//     until the first result (keepalived's num_script_init);
//   - script/interface, weight w>0: +w while good/up (reverse: -w);
//     w<0: -|w| while bad/down (reverse: +|w|); unknown: no adjustment;
//   - file, weight 0: FAULT while the value is non-zero (reverse: while it
//     is zero); otherwise value×weight (negated by reverse), clamped to
//     [-254, 253], is added and -254 means FAULT.
func Effective(base uint8, trackers []Tracker, st map[string]Status) (prio uint8, fault bool, reason string) {
	total := int64(base)
	var faults, adjs []string
	for _, t := range trackers {
		s, ok := st[t.Name]
		known := ok && s.Known && (s.Kind == "" || s.Kind == t.Kind)
		rev := ""
		if t.Reverse {
			rev = ", reverse"
		}
		switch t.Kind {
		case KindScript, KindInterface, KindProcess:
			if !known {
				if t.Weight == 0 {
					faults = append(faults, fmt.Sprintf("waiting for first result of %s %s", t.Kind, t.Name))
				}
				continue
			}
			word := stateWord(t.Kind, s.OK)
			if t.Weight == 0 {
				// keepalived: fault when script_ok != (multiplier == 1).
				if s.OK == t.Reverse {
					faults = append(faults, fmt.Sprintf("%s %s (fault%s)", t.Name, word, rev))
				}
				continue
			}
			d := scriptAdjustment(t.Weight, t.Reverse, s.OK)
			if d != 0 {
				total += d
				adjs = append(adjs, fmt.Sprintf("%s %s (%+d%s)", t.Name, word, d, rev))
			}
		case KindFile:
			if !known && t.Weight == 0 {
				faults = append(faults, fmt.Sprintf("waiting for first result of file %s", t.Name))
				continue
			}
			v := 0
			if known {
				v = s.Value
			}
			d, f := fileAdjustment(t.Weight, t.Reverse, v)
			if f {
				faults = append(faults, fmt.Sprintf("%s value %d (fault%s)", t.Name, v, rev))
				continue
			}
			if d != 0 {
				total += d
				adjs = append(adjs, fmt.Sprintf("%s value %d (%+d%s)", t.Name, v, d, rev))
			}
		default:
			// A tracker we cannot evaluate must not silently let the
			// instance become master.
			faults = append(faults, fmt.Sprintf("unknown tracker kind %q for %s", t.Kind, t.Name))
		}
	}

	fault = len(faults) > 0
	if base == PriorityOwner {
		prio = PriorityOwner
		reason = strings.Join(faults, "; ")
		if !fault && len(adjs) > 0 {
			reason = "address owner, priority stays 255 (ignoring " + strings.Join(adjs, ", ") + ")"
		}
		return prio, fault, reason
	}

	clamped := total
	if clamped < 1 {
		clamped = 1
	} else if clamped > maxEffective {
		clamped = maxEffective
	}
	prio = uint8(clamped)
	if fault {
		return prio, true, strings.Join(faults, "; ")
	}
	reason = strings.Join(adjs, ", ")
	if clamped != total {
		reason += fmt.Sprintf("; total %d clamped to %d", total, clamped)
	}
	return prio, false, reason
}

// scriptAdjustment is the steady-state contribution of a weighted script or
// interface: keepalived adds weight×multiplier when it enters the state the
// sign of the weight selects (good for w>0, bad for w<0) and removes it when
// it leaves, so the contribution depends only on the current state.
func scriptAdjustment(weight int, reverse, ok bool) int64 {
	mult := int64(1)
	if reverse {
		mult = -1
	}
	switch {
	case ok && weight > 0, !ok && weight < 0:
		return int64(weight) * mult
	}
	return 0
}

// fileAdjustment mirrors update_track_file_status and
// process_update_vrrp_track_file_status.
func fileAdjustment(weight int, reverse bool, value int) (int64, bool) {
	if weight == 0 {
		// "a non-zero value means failure" (or zero, reversed).
		return 0, (value != 0) != reverse
	}
	p := int64(value) * int64(weight)
	if reverse {
		p = -p
	}
	if p <= fileFault {
		return 0, true
	}
	if p > fileMax {
		p = fileMax
	}
	return p, false
}

func stateWord(kind string, ok bool) string {
	switch {
	case kind == KindInterface && ok:
		return "up"
	case kind == KindInterface:
		return "down"
	case ok:
		return "ok"
	}
	return "failed"
}
