package vrrp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// A simulated LAN: machines exchange adverts through a network that never
// loses one and delivers after a fixed latency (0 = instantly, but only
// after every timer due at the same instant has run, so routers whose
// timers fire together really do advertise at the same time).

type simNode struct {
	m        *Machine
	addr     netip.Addr
	interval time.Duration
	startAt  time.Time
	started  bool
	vips     bool
}

type simMsg struct {
	to   int
	info AdvertInfo
	at   time.Time
}

type simEvent struct {
	at   time.Time
	name string
	do   func(s *simNet)
}

type simNet struct {
	t        *testing.T
	now      time.Time
	nodes    []*simNode
	latency  time.Duration
	inflight []simMsg
	events   []simEvent // sorted by at

	transitions []string // "at node FROM->TO reason", for failure reports
	dualSince   time.Time
	maxDual     time.Duration
}

func (s *simNet) apply(i int, acts []Action) {
	n := s.nodes[i]
	for _, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			for j, o := range s.nodes {
				if j != i && o.started {
					s.inflight = append(s.inflight, simMsg{to: j, at: s.now.Add(s.latency),
						info: AdvertInfo{Priority: a.Priority, Src: n.addr, Interval: n.interval}})
				}
			}
		case AddVIPs:
			n.vips = true
		case RemoveVIPs:
			n.vips = false
		case Transition:
			s.transitions = append(s.transitions, fmt.Sprintf("%v node%d(%v prio %d) %v->%v: %s",
				a.At.Sub(fsmT0), i, n.addr, n.m.Priority(), a.From, a.To, a.Reason))
		}
	}
}

// run advances the simulation until the clock passes until.
func (s *simNet) run(until time.Time) {
	for {
		next := until.Add(1)
		consider := func(t time.Time) {
			if !t.IsZero() && t.Before(next) {
				next = t
			}
		}
		for _, n := range s.nodes {
			if !n.started {
				consider(n.startAt)
			} else {
				consider(n.m.NextDeadline())
			}
		}
		for _, m := range s.inflight {
			consider(m.at)
		}
		if len(s.events) > 0 {
			consider(s.events[0].at)
		}
		if next.After(until) {
			s.now = until
			return
		}
		s.now = next
		s.step()
	}
}

// step runs everything due at s.now: starts, scripted events, timers, then
// the adverts that have arrived.
func (s *simNet) step() {
	for i, n := range s.nodes {
		if !n.started && !n.startAt.After(s.now) {
			n.started = true
			s.apply(i, n.m.Start(s.now))
		}
	}
	for len(s.events) > 0 && !s.events[0].at.After(s.now) {
		e := s.events[0]
		s.events = s.events[1:]
		s.transitions = append(s.transitions, fmt.Sprintf("%v event: %s", s.now.Sub(fsmT0), e.name))
		e.do(s)
	}
	for i, n := range s.nodes {
		if d := n.m.NextDeadline(); n.started && !d.IsZero() && !d.After(s.now) {
			s.apply(i, n.m.Tick(s.now))
		}
	}
	var later []simMsg
	due := s.inflight
	s.inflight = nil
	for _, m := range due {
		if m.at.After(s.now) {
			later = append(later, m)
			continue
		}
		s.apply(m.to, s.nodes[m.to].m.ReceiveAdvert(s.now, m.info))
	}
	s.inflight = append(later, s.inflight...)
	s.check()
}

// check asserts that VIPs are held exactly by masters and tracks how long
// two masters coexist.
func (s *simNet) check() {
	s.t.Helper()
	masters := 0
	for i, n := range s.nodes {
		if n.vips != (n.m.State() == StateMaster) {
			s.fail("node%d holds VIPs=%v in state %v", i, n.vips, n.m.State())
		}
		if n.m.State() == StateMaster {
			masters++
		}
	}
	switch {
	case masters >= 2 && s.dualSince.IsZero():
		s.dualSince = s.now
	case masters < 2 && !s.dualSince.IsZero():
		s.maxDual = max(s.maxDual, s.now.Sub(s.dualSince))
		s.dualSince = time.Time{}
	}
}

func (s *simNet) fail(format string, args ...any) {
	s.t.Helper()
	for _, l := range s.transitions {
		s.t.Log(l)
	}
	s.t.Fatalf("at %v: "+format, append([]any{s.now.Sub(fsmT0)}, args...)...)
}

func (s *simNet) masters() []int {
	var ms []int
	for i, n := range s.nodes {
		if n.m.State() == StateMaster {
			ms = append(ms, i)
		}
	}
	return ms
}

// simScenario is one randomly drawn setup.
type simScenario struct {
	params       []Params
	starts       []time.Duration
	latency      time.Duration
	events       []simEvent
	lastEvent    time.Duration
	simultaneous bool
	gated        bool // some node's arbiter gate refuses for a while
}

func drawScenario(rng *rand.Rand) simScenario {
	var sc simScenario
	n := 2 + rng.IntN(2)
	version := 2 + rng.IntN(2)
	v2Interval := time.Duration(1+rng.IntN(2)) * time.Second
	prios := []uint8{1, 50, 100, 100, 100, 150, 150, 200, 254, 255}
	last := []int{1, 2, 3}
	rng.Shuffle(len(last), func(i, j int) { last[i], last[j] = last[j], last[i] })
	sc.simultaneous = rng.IntN(2) == 0
	if rng.IntN(4) == 0 {
		sc.latency = time.Duration(rng.IntN(2000)) * time.Microsecond
	}
	for i := range n {
		p := Params{
			Name:        fmt.Sprintf("node%d", i),
			Version:     version,
			Priority:    prios[rng.IntN(len(prios))],
			Preempt:     rng.IntN(5) != 0,
			WantMaster:  rng.IntN(3) == 0,
			PrimaryAddr: netip.AddrFrom4([4]byte{10, 0, 0, byte(last[i])}),
		}
		if rng.IntN(4) == 0 {
			p.PreemptDelay = time.Duration(rng.IntN(3000)) * time.Millisecond
		}
		if rng.IntN(5) == 0 {
			// The arbiter refuses this node until some time.
			until := time.Duration(rng.IntN(20000)) * time.Millisecond
			p.Grant = func(now time.Time) bool { return !now.Before(fsmAt(until)) }
			sc.lastEvent = max(sc.lastEvent, until)
			sc.gated = true
		}
		if version == 2 {
			p.AdvertInterval = v2Interval
		} else {
			p.AdvertInterval = time.Duration(5+rng.IntN(196)) * 10 * time.Millisecond
		}
		sc.params = append(sc.params, p)
		start := time.Duration(0)
		if !sc.simultaneous {
			start = time.Duration(rng.IntN(5000)) * time.Millisecond
		}
		sc.starts = append(sc.starts, start)
	}
	for range rng.IntN(4) {
		i := rng.IntN(n)
		at := time.Duration(rng.IntN(20000)) * time.Millisecond
		switch rng.IntN(3) {
		case 0:
			prio := uint8(1 + rng.IntN(254))
			sc.events = append(sc.events, simEvent{at: fsmAt(at), name: fmt.Sprintf("node%d priority %d", i, prio),
				do: func(s *simNet) { s.apply(i, s.nodes[i].m.SetPriority(s.now, prio)) }})
			sc.lastEvent = max(sc.lastEvent, at)
		case 1:
			off := at + time.Duration(rng.IntN(5000))*time.Millisecond
			sc.events = append(sc.events,
				simEvent{at: fsmAt(at), name: fmt.Sprintf("node%d fault", i),
					do: func(s *simNet) { s.apply(i, s.nodes[i].m.SetFault(s.now, true, "sim fault")) }},
				simEvent{at: fsmAt(off), name: fmt.Sprintf("node%d fault cleared", i),
					do: func(s *simNet) { s.apply(i, s.nodes[i].m.SetFault(s.now, false, "sim fault cleared")) }})
			sc.lastEvent = max(sc.lastEvent, off)
		case 2:
			back := at + time.Duration(rng.IntN(5000))*time.Millisecond
			sc.events = append(sc.events,
				simEvent{at: fsmAt(at), name: fmt.Sprintf("node%d shutdown", i),
					do: func(s *simNet) { s.apply(i, s.nodes[i].m.Shutdown(s.now)) }},
				simEvent{at: fsmAt(back), name: fmt.Sprintf("node%d restart", i),
					do: func(s *simNet) { s.nodes[i].started = true; s.apply(i, s.nodes[i].m.Start(s.now)) }})
			sc.lastEvent = max(sc.lastEvent, back)
		}
	}
	// Keep each node's fault on/off pairs in order: a later "fault" must not
	// overtake an earlier "cleared" at the same instant.
	slices.SortStableFunc(sc.events, func(a, b simEvent) int { return a.at.Compare(b.at) })
	return sc
}

func newSimNet(t *testing.T, sc simScenario) *simNet {
	s := &simNet{t: t, now: fsmT0, latency: sc.latency, events: sc.events}
	for i, p := range sc.params {
		s.nodes = append(s.nodes, &simNode{m: NewMachine(p), addr: p.PrimaryAddr, interval: p.AdvertInterval, startAt: fsmAt(sc.starts[i])})
	}
	return s
}

// TestSimConvergence is the property test: whatever the priorities,
// versions, intervals, preempt settings, start times, tracking changes,
// faults, shutdowns and arbiter refusals, the routers end with exactly one stable master; when everyone
// preempts it has the highest priority; with simultaneous starts and no
// other differences the higher address wins the tie; and two masters never
// coexist for longer than one advert interval.
func TestSimConvergence(t *testing.T) {
	const scenarios = 2000
	var worstDual time.Duration
	for seed := range uint64(scenarios) {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			sc := drawScenario(rng)
			s := newSimNet(t, sc)

			var maxInterval, minInterval, maxDelay, lastStart time.Duration
			minInterval = time.Hour
			allPreempt := true
			for i, n := range s.nodes {
				maxInterval = max(maxInterval, n.interval)
				minInterval = min(minInterval, n.interval)
				maxDelay = max(maxDelay, n.m.p.PreemptDelay)
				lastStart = max(lastStart, sc.starts[i])
				allPreempt = allPreempt && n.m.p.Preempt
			}
			settle := 3*(4*maxInterval+time.Second+maxDelay) + 5*time.Second
			converged := fsmAt(max(lastStart, sc.lastEvent) + settle)
			s.run(converged)

			ms := s.masters()
			if len(ms) != 1 {
				s.fail("%d masters %v after settling, want exactly 1", len(ms), ms)
			}
			master := s.nodes[ms[0]]
			var top uint8
			for _, n := range s.nodes {
				top = max(top, n.m.Priority())
			}
			if allPreempt && master.m.Priority() != top {
				s.fail("master node%d has priority %d, highest is %d (everyone preempts)", ms[0], master.m.Priority(), top)
			}
			if allPreempt && sc.simultaneous && len(sc.events) == 0 && maxDelay == 0 && !sc.gated {
				// Routers whose timers fire together advertise together: the
				// higher address wins if the top ones share an interval and
				// the way they start (an owner with state MASTER does not wait).
				var best netip.Addr
				alike := true
				immediate := func(n *simNode) bool { return n.m.p.Priority == fsmOwnerPrio && n.m.p.WantMaster }
				for _, n := range s.nodes {
					if n.m.Priority() == top {
						alike = alike && n.interval == master.interval && immediate(n) == immediate(master)
						if n.addr.Compare(best) > 0 {
							best = n.addr
						}
					}
				}
				if alike && master.addr != best {
					s.fail("tie at priority %d won by %v, want the highest address %v", top, master.addr, best)
				}
			}

			// Stable: nothing changes for a while longer.
			before := len(s.transitions)
			s.run(converged.Add(10*maxInterval + 10*time.Second))
			if len(s.transitions) != before || len(s.masters()) != 1 || s.masters()[0] != ms[0] {
				s.fail("not stable after convergence: %v", s.transitions[before:])
			}
			if s.maxDual > minInterval {
				s.fail("two masters for %v, longer than one advert interval (%v)", s.maxDual, minInterval)
			}
			worstDual = max(worstDual, s.maxDual)
		})
	}
	t.Logf("%d scenarios; longest dual-master span %v", scenarios, worstDual)
}

// TestSimTieBreak pins the tie-break cases the property test only samples.
func TestSimTieBreak(t *testing.T) {
	tests := []struct {
		name    string
		version int
		prios   []uint8
		starts  []time.Duration
		want    int // index of the final master
	}{
		{"v2 equal priority simultaneous: higher address", 2, []uint8{100, 100}, []time.Duration{0, 0}, 1},
		{"v3 equal priority simultaneous: higher address", 3, []uint8{100, 100, 100}, []time.Duration{0, 0, 0}, 2},
		{"v2 equal priority, higher address starts later: no preemption", 2, []uint8{100, 100}, []time.Duration{0, 10 * time.Second}, 0},
		{"v2 higher priority starts later: preempts", 2, []uint8{100, 150}, []time.Duration{0, 10 * time.Second}, 1},
		{"v3 lower address with higher priority wins", 3, []uint8{200, 100, 100}, []time.Duration{0, 0, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sc simScenario
			sc.starts = tt.starts
			for i, p := range tt.prios {
				sc.params = append(sc.params, Params{Name: fmt.Sprintf("node%d", i), Version: tt.version, Priority: p, Preempt: true,
					AdvertInterval: time.Second, PrimaryAddr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})})
			}
			s := newSimNet(t, sc)
			s.run(fsmAt(30 * time.Second))
			if ms := s.masters(); len(ms) != 1 || ms[0] != tt.want {
				s.fail("masters %v, want [%d]", ms, tt.want)
			}
			t.Logf("longest dual-master span %v", s.maxDual)
		})
	}
}
