package vrrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/track"
	"github.com/vipd/vipd/vrrp/vip"
	"github.com/vipd/vipd/vrrp/vrrpconn"
)

// fakeLAN connects fake packet conns: a write to the VRRP group reaches
// every other conn, a write to an address reaches the conn that has it.
type fakeLAN struct {
	mu      sync.Mutex
	conns   []*fakeConn
	cut     map[[2]netip.Addr]bool // src→dst pairs whose packets are dropped
	kernels []*fakeAddrs           // every node's addresses, for ARP and overlap checks
	// overlaps counts, per node, VIPs installed while another node held
	// them.
	overlaps map[string]int
}

// answering is a fake ARP probe: the first kernel other than self that
// holds vip.
func (l *fakeLAN) answering(self string, vip netip.Addr) (string, bool) {
	l.mu.Lock()
	kernels := slices.Clone(l.kernels)
	l.mu.Unlock()
	for _, k := range kernels {
		if k.name != self && k.holds(vip) {
			return k.name, true
		}
	}
	return "", false
}

type fakePacket struct {
	b    []byte
	meta vrrpconn.Meta
}

type fakeConn struct {
	lan    *fakeLAN
	addr   netip.Addr
	in     chan fakePacket
	closed chan struct{}
	once   sync.Once
}

func (l *fakeLAN) dial(addr netip.Addr) *fakeConn {
	c := &fakeConn{lan: l, addr: addr, in: make(chan fakePacket, 64), closed: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c
}

func (l *fakeLAN) setCut(a, b netip.Addr, cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut == nil {
		l.cut = map[[2]netip.Addr]bool{}
	}
	l.cut[[2]netip.Addr{a, b}] = cut
	l.cut[[2]netip.Addr{b, a}] = cut
}

func (c *fakeConn) ReadFrom(b []byte) (int, vrrpconn.Meta, error) {
	select {
	case p := <-c.in:
		return copy(b, p.b), p.meta, nil
	case <-c.closed:
		return 0, vrrpconn.Meta{}, net.ErrClosed
	}
}

func (c *fakeConn) WriteTo(b []byte, dst netip.Addr) error {
	c.lan.mu.Lock()
	defer c.lan.mu.Unlock()
	for _, o := range c.lan.conns {
		if o == c || c.lan.cut[[2]netip.Addr{c.addr, o.addr}] || (!dst.IsMulticast() && o.addr != dst) {
			continue
		}
		select {
		case o.in <- fakePacket{b: slices.Clone(b), meta: vrrpconn.Meta{Src: c.addr, Dst: dst, TTL: 255}}:
		default: // a full queue drops, as a socket buffer would
		}
	}
	return nil
}

func (c *fakeConn) LocalAddr() netip.Addr { return c.addr }
func (c *fakeConn) Close() error          { c.once.Do(func() { close(c.closed) }); return nil }

// fakeAddrs is one node's kernel: VIPs with their expiry.
type fakeAddrs struct {
	name string
	lan  *fakeLAN
	mu   sync.Mutex
	now  func() time.Time
	exp  map[netip.Prefix]time.Time
	// removed counts removals of addresses that were present.
	removed int
}

func (f *fakeAddrs) holds(a netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, t := range f.exp {
		if p.Addr() == a && f.now().Before(t) {
			return true
		}
	}
	return false
}

func (f *fakeAddrs) Apply(addrs []vip.Addr, lifetime time.Duration) error {
	for _, a := range addrs {
		if f.holds(a.Prefix.Addr()) {
			continue // a refresh, not an install
		}
		if _, other := f.lan.answering(f.name, a.Prefix.Addr()); other {
			f.lan.mu.Lock()
			if f.lan.overlaps == nil {
				f.lan.overlaps = map[string]int{}
			}
			f.lan.overlaps[f.name]++
			f.lan.mu.Unlock()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range addrs {
		f.exp[a.Prefix] = f.now().Add(lifetime)
	}
	return nil
}

func (f *fakeAddrs) Remove(addrs []vip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range addrs {
		if t, ok := f.exp[a.Prefix]; ok && f.now().Before(t) {
			f.removed++
		}
		delete(f.exp, a.Prefix)
	}
	return nil
}

func (f *fakeAddrs) removals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.removed
}

// held lists the VIPs present now (expired ones are gone, as in the kernel).
func (f *fakeAddrs) held() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p, t := range f.exp {
		if f.now().Before(t) {
			out = append(out, p.String())
		}
	}
	slices.Sort(out)
	return out
}

// fakeAnnouncer records when each gratuitous ARP/NA left, by address.
type fakeAnnouncer struct {
	mu   sync.Mutex
	sent []sentAnnounce
}

type sentAnnounce struct {
	at   time.Time
	addr netip.Addr
}

func (a *fakeAnnouncer) Announce(addrs []netip.Addr, _ net.HardwareAddr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ad := range addrs {
		a.sent = append(a.sent, sentAnnounce{at: time.Now(), addr: ad})
	}
	return nil
}

func (a *fakeAnnouncer) log() []sentAnnounce {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sent)
}
func (a *fakeAnnouncer) Close() error { return nil }

type fakeNotifier struct {
	mu     sync.Mutex
	events []string
}

func (f *fakeNotifier) Notify(_ notify.Scripts, ev notify.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fmt.Sprintf("%s %s %s %d", ev.Type, ev.Name, ev.State, ev.Priority))
}

// node is one engine on the fake LAN.
type node struct {
	addr     netip.Addr
	engine   *Engine
	addrs    *fakeAddrs
	ann      *fakeAnnouncer
	notifier *fakeNotifier
	trk      chan track.Status
	cancel   context.CancelFunc
	done     chan error
}

func startNode(t *testing.T, lan *fakeLAN, addr string, conf string, opts ...func(*Options)) *node {
	t.Helper()
	cfg, _, err := config.Parse(t.Name()+"-"+addr+".conf", []byte(conf))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	n := &node{
		addr:     netip.MustParseAddr(addr),
		addrs:    &fakeAddrs{name: addr, lan: lan, now: time.Now, exp: map[netip.Prefix]time.Time{}},
		notifier: &fakeNotifier{},
		ann:      &fakeAnnouncer{},
		trk:      make(chan track.Status),
		done:     make(chan error, 1),
	}
	conn := lan.dial(n.addr)
	lan.mu.Lock()
	lan.kernels = append(lan.kernels, n.addrs)
	lan.mu.Unlock()
	opt := Options{
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenConn:      func(vrrpconn.Config) (PacketConn, error) { return conn, nil },
		OpenAnnouncer: func(string) (Announcer, error) { return n.ann, nil },
		Addrs:         n.addrs,
		Notifier:      n.notifier,
		Trackers: func(ctx context.Context, cfg *config.Config, out chan<- track.Status) {
			for _, in := range cfg.Instances { // links are up
				out <- track.Status{Name: in.Interface, Kind: track.KindInterface, Known: true, OK: true}
			}
			for {
				select {
				case s := <-n.trk:
					out <- s
				case <-ctx.Done():
					return
				}
			}
		},
	}
	for _, o := range opts {
		o(&opt)
	}
	n.engine = NewEngine(cfg, opt)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.engine.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func (n *node) state(t *testing.T) string {
	t.Helper()
	st, err := n.engine.Status(context.Background())
	if err != nil || len(st) == 0 {
		return "?"
	}
	return st[0].State
}

// eventually polls cond until it holds or a generous deadline passes. The
// engine tests run in a synctest bubble, so the sleeps and the deadline are
// fake time: the poll is deterministic and costs no wall-clock time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fastConf is a VRRPv3 instance with a 50 ms advert interval, so elections
// take a fraction of a second with real timers.
func fastConf(prio int, extra string) string {
	return fmt.Sprintf(`
global_defs {
    vrrp_version 3
    vrrp_garp_master_delay 0
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.05
    %s
    virtual_ipaddress { 10.0.0.100/24 }
}
`, prio, extra)
}

func TestEngineElectsHighestPriorityAndFailsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		n1 := startNode(t, lan, "10.0.0.1", fastConf(150, ""))
		n2 := startNode(t, lan, "10.0.0.2", fastConf(100, ""))
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" && n2.state(t) == "BACKUP" })
		eventually(t, "VIP on n1 only", func() bool { return len(n1.addrs.held()) == 1 && len(n2.addrs.held()) == 0 })

		// Graceful stop: priority 0, VIPs removed, n2 takes over.
		n1.stop()
		if got := n1.addrs.held(); len(got) != 0 {
			t.Errorf("n1 still holds %v after stopping", got)
		}
		eventually(t, "n2 master", func() bool { return n2.state(t) == "MASTER" && len(n2.addrs.held()) == 1 })
		n1.notifier.mu.Lock()
		defer n1.notifier.mu.Unlock()
		if !slices.Contains(n1.notifier.events, "INSTANCE VI_1 MASTER 150") || !slices.Contains(n1.notifier.events, "INSTANCE VI_1 STOP 0") {
			t.Errorf("n1 notify events = %v, want MASTER then STOP", n1.notifier.events)
		}
	})
}

// withARP gives a node a duplicate probe that sees the fake LAN's kernels.
func withARP(lan *fakeLAN, self string) func(*Options) {
	return func(o *Options) {
		o.ProbeVIP = func(ctx context.Context, _ string, vip netip.Addr) (string, bool, error) {
			holder, found := lan.answering(self, vip)
			return holder, found, nil
		}
	}
}

// A backup that preempts a live master installs the VIPs only once that
// master dropped them: never two holders, however late the old master
// processes the advert that makes it step down.
func TestEnginePreemptionBreaksBeforeMake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range 10 {
			lan := &fakeLAN{}
			low := startNode(t, lan, "10.0.0.1", fastConf(100, ""), withARP(lan, "10.0.0.1"))
			eventually(t, "n1 master", func() bool { return len(low.addrs.held()) == 1 })
			high := startNode(t, lan, "10.0.0.2", fastConf(150, ""), withARP(lan, "10.0.0.2"))
			eventually(t, "n2 preempts", func() bool { return len(high.addrs.held()) == 1 && len(low.addrs.held()) == 0 })
			// Only the preempting node's installs count: on a starved machine
			// the low node may miss adverts for a down interval and come back
			// as a second master, which no VRRP can prevent.
			lan.mu.Lock()
			overlaps := lan.overlaps["10.0.0.2"]
			lan.mu.Unlock()
			if overlaps != 0 {
				t.Fatalf("round %d: the preempting node installed the VIP %d times while the other node held it", round, overlaps)
			}
			low.stop()
			high.stop()
		}
	})
}

func TestEngineNopreemptKeepsMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		n2 := startNode(t, lan, "10.0.0.2", fastConf(100, "nopreempt"))
		eventually(t, "n2 master alone", func() bool { return n2.state(t) == "MASTER" })
		n1 := startNode(t, lan, "10.0.0.1", fastConf(150, "nopreempt"))
		eventually(t, "n1 backup", func() bool { return n1.state(t) == "BACKUP" })
		time.Sleep(500 * time.Millisecond) // ten advert intervals: n1 must not preempt
		if n1.state(t) != "BACKUP" || n2.state(t) != "MASTER" {
			t.Errorf("nopreempt: n1 %s n2 %s, want BACKUP and MASTER", n1.state(t), n2.state(t))
		}
	})
}

func TestEngineScriptWeightMovesMastership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		script := `
vrrp_script chk {
    script "/bin/true"
    interval 1
    weight -60
}`
		conf := func(prio int) string {
			return script + fastConf(prio, "track_script { chk }")
		}
		n1 := startNode(t, lan, "10.0.0.1", conf(150))
		n2 := startNode(t, lan, "10.0.0.2", conf(100))
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		n1.trk <- track.Status{Name: "chk", Kind: track.KindScript, Known: true, OK: false, Detail: "exit 1"}
		eventually(t, "n2 master after n1's script fails", func() bool { return n2.state(t) == "MASTER" && n1.state(t) == "BACKUP" })
		st, _ := n1.engine.Status(context.Background())
		if st[0].Priority != 90 || st[0].BasePriority != 150 {
			t.Errorf("n1 priority %d base %d, want 90 and 150", st[0].Priority, st[0].BasePriority)
		}
	})
}

func TestEngineFenceLapseStepsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A master whose refreshes stop (as if frozen) must find its fence
		// lapsed and re-enter as backup rather than refresh a VIP the kernel
		// already dropped.
		lan := &fakeLAN{}
		n1 := startNode(t, lan, "10.0.0.1", fastConf(150, ""))
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		var last string
		err := n1.engine.do(context.Background(), func(now time.Time) {
			in := n1.engine.insts[0]
			later := in.fenceUntil.Add(time.Millisecond)
			if !in.fenceExpired(later) {
				t.Errorf("fence not expired at its deadline")
			}
			n1.engine.loseFence(later, in)
			last = in.last.From + "→" + in.last.To + ": " + in.last.Reason
			if in.holding {
				t.Errorf("still holding after the fence lapsed")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(last, "MASTER→BACKUP: kernel fence lapsed") {
			t.Errorf("last transition %q, want MASTER→BACKUP for a lapsed fence", last)
		}
		if got := n1.addrs.held(); len(got) != 0 {
			t.Errorf("VIPs %v still installed after the fence lapsed", got)
		}
	})
}

func TestEngineReloadKeepsMasterAndAppliesVIPDiff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		n1 := startNode(t, lan, "10.0.0.1", fastConf(150, ""))
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		newConf := `
global_defs {
    vrrp_version 3
    vrrp_garp_master_delay 0
}
vrrp_instance VI_renamed {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 140
    advert_int 0.1
    preempt_delay 1
    virtual_ipaddress {
        10.0.0.100/24
        10.0.0.101/24
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 0.05
    virtual_ipaddress { 10.0.0.200/24 }
}`
		cfg, _, err := config.Parse("reload.conf", []byte(newConf))
		if err != nil {
			t.Fatal(err)
		}
		removed := n1.addrs.removals()
		if err := n1.engine.Reload(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		st, _ := n1.engine.Status(context.Background())
		if st[0].Name != "VI_renamed" || st[0].State != "MASTER" || st[0].BasePriority != 140 || st[0].AdvertInt != 100*time.Millisecond {
			t.Errorf("after reload: %+v, want VI_renamed MASTER base 140 advert_int 100ms", st[0])
		}
		if got, want := n1.addrs.held(), []string{"10.0.0.100/24", "10.0.0.101/24"}; !slices.Equal(got, want) {
			t.Errorf("held %v, want %v", got, want)
		}
		time.Sleep(time.Second) // (fake time) ten new intervals
		if st, _ := n1.engine.Status(context.Background()); st[0].State != "MASTER" || st[0].Stats.Transitions != 2 {
			t.Errorf("a second after the reload: %s after %d transitions, want MASTER after 2 (INIT→BACKUP→MASTER)", st[0].State, st[0].Stats.Transitions)
		}
		if n := n1.addrs.removals(); n != removed {
			t.Errorf("the reload removed %d VIPs, want none: a new advert_int, priority or preempt_delay keeps the master's VIPs", n-removed)
		}
		eventually(t, "VI_2 master", func() bool {
			st, _ := n1.engine.Status(context.Background())
			return len(st) == 2 && st[1].State == "MASTER"
		})
	})
}

// garpConf is fastConf with keepalived's GARP settings in global_defs.
func garpConf(prio int, garp string) string {
	return strings.Replace(fastConf(prio, ""), "vrrp_garp_master_delay 0\n", garp+"\n", 1)
}

// vrrp_garp_interval spaces every gratuitous ARP a link sends, the bursts
// of two instances included, as keepalived does per interface.
func TestEngineGARPInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		conf := garpConf(150, "vrrp_garp_master_delay 0\n    vrrp_garp_master_repeat 3\n    vrrp_garp_interval 0.1")
		conf = strings.Replace(conf, "virtual_ipaddress { 10.0.0.100/24 }", "virtual_ipaddress {\n 10.0.0.100/24\n 10.0.0.101/24\n }", 1)
		n1 := startNode(t, lan, "10.0.0.1", conf)
		eventually(t, "six GARPs", func() bool { return len(n1.ann.log()) == 6 })
		sent := n1.ann.log()
		for i := 1; i < len(sent); i++ {
			if gap := sent[i].at.Sub(sent[i-1].at); gap < 100*time.Millisecond {
				t.Errorf("GARP %d left %v after the one before, want at least vrrp_garp_interval (100ms): %v", i, gap, sent)
			}
		}
		time.Sleep(time.Second)
		if n := len(n1.ann.log()); n != 6 {
			t.Errorf("%d GARPs, want 3 per VIP (vrrp_garp_master_repeat 3)", n)
		}
	})
}

// A master that hears a lower priority re-announces at once and again
// after garp_lower_prio_delay (keepalived vrrp_state_master_rx).
func TestEngineGARPLowerPrioDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		garp := "vrrp_garp_master_delay 0\n    vrrp_garp_master_repeat 1\n    vrrp_garp_lower_prio_repeat 2\n    vrrp_garp_lower_prio_delay 3"
		n1 := startNode(t, lan, "10.0.0.1", garpConf(150, garp))
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		// One advert from a lower-priority router that thinks it is master.
		before := len(n1.ann.log())
		rogue := lan.dial(netip.MustParseAddr("10.0.0.9"))
		adv := Advert{Version: 3, Type: 1, VRID: 51, Priority: 50, AdvertInt: IntervalToField(3, 50*time.Millisecond),
			Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.100")}}
		b, err := adv.AppendMarshal(nil, rogue.addr, GroupIPv4)
		if err != nil {
			t.Fatal(err)
		}
		if err := rogue.WriteTo(b, GroupIPv4); err != nil {
			t.Fatal(err)
		}
		eventually(t, "n1 re-announces at once", func() bool { return len(n1.ann.log()) >= before+2 })
		at := time.Now()
		time.Sleep(2 * time.Second)
		if n := len(n1.ann.log()); n != before+2 {
			t.Errorf("%d GARPs before garp_lower_prio_delay passed, want %d", n-before, 2)
		}
		time.Sleep(2 * time.Second)
		sent := n1.ann.log()
		if len(sent) != before+4 {
			t.Fatalf("%d GARPs after garp_lower_prio_delay, want 4 (2 at once, 2 after the delay)", len(sent)-before)
		}
		if d := sent[before+2].at.Sub(at); d < 3*time.Second-100*time.Millisecond {
			t.Errorf("second burst %v after the first, want garp_lower_prio_delay (3s)", d)
		}
	})
}

// vrrp_startup_delay: nobody becomes master before it ends.
func TestEngineStartupDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		start := time.Now()
		n1 := startNode(t, lan, "10.0.0.1", garpConf(150, "vrrp_garp_master_delay 0\n    vrrp_startup_delay 5"))
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		if d := time.Since(start); d < 5*time.Second {
			t.Errorf("master %v after start, want after vrrp_startup_delay (5s)", d)
		}
	})
}

// A sync group's own track_script applies to every member: when it fails,
// the whole group goes to FAULT (keepalived sync_group_tracking_init).
func TestEngineSyncGroupTrackScript(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		conf := `
global_defs {
    vrrp_version 3
    vrrp_garp_master_delay 0
}
vrrp_script chk {
    script "/bin/true"
}
vrrp_sync_group G {
    group {
        VI_1
        VI_2
    }
    track_script {
        chk
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.05
    virtual_ipaddress { 10.0.0.100/24 }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 150
    advert_int 0.05
    virtual_ipaddress { 10.0.0.101/24 }
}
`
		n1 := startNode(t, lan, "10.0.0.1", conf)
		n1.trk <- track.Status{Name: "chk", Kind: track.KindScript, Known: true, OK: true}
		states := func() string {
			st, _ := n1.engine.Status(context.Background())
			var s []string
			for _, in := range st {
				s = append(s, in.State)
			}
			return strings.Join(s, " ")
		}
		eventually(t, "both master", func() bool { return states() == "MASTER MASTER" })
		n1.trk <- track.Status{Name: "chk", Kind: track.KindScript, Known: true, OK: false, Detail: "exit 1"}
		eventually(t, "both in FAULT", func() bool { return states() == "FAULT FAULT" })
		if got := n1.addrs.held(); len(got) != 0 {
			t.Errorf("VIPs %v still held in FAULT", got)
		}
	})
}

// init_file writes the track file's value at start when the file is
// missing, or always with overwrite (keepalived track_file_end_handler).
func TestEngineTrackFileInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		missing, kept, over := filepath.Join(dir, "missing"), filepath.Join(dir, "kept"), filepath.Join(dir, "over")
		for _, p := range []string{kept, over} {
			if err := os.WriteFile(p, []byte("7\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		conf := fmt.Sprintf(`
vrrp_track_file a {
    file %s
    init_file 5
}
vrrp_track_file b {
    file %s
    init_file 5
}
vrrp_track_file c {
    file %s
    init_file -3 overwrite
}
`, missing, kept, over) + fastConf(150, "track_file {\n a weight 0\n b weight 0\n c weight 0\n }")
		n1 := startNode(t, &fakeLAN{}, "10.0.0.1", conf)
		eventually(t, "started", func() bool { return n1.state(t) != "INIT" })
		for p, want := range map[string]string{missing: "5\n", kept: "7\n", over: "-3\n"} {
			if b, err := os.ReadFile(p); err != nil || string(b) != want {
				t.Errorf("%s = %q (%v), want %q", filepath.Base(p), b, err, want)
			}
		}
	})
}

// fakeFirewall records accept mode's drop sets, and whether each was
// applied before the VIPs reached the kernel.
type fakeFirewall struct {
	mu     sync.Mutex
	addrs  *fakeAddrs
	sets   []string
	early  []bool // the set held a VIP the kernel did not hold yet
	closed bool
}

func (f *fakeFirewall) Apply(addrs []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	early := false
	for _, a := range addrs {
		s = append(s, a.String())
		if !f.addrs.holds(a) {
			early = true
		}
	}
	f.sets = append(f.sets, strings.Join(s, ","))
	f.early = append(f.early, early)
	return nil
}

func (f *fakeFirewall) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeFirewall) log() ([]string, []bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sets), slices.Clone(f.early), f.closed
}

// no_accept (the default in strict mode): the master drops traffic to its
// VIPs from before it installs them until it removes them, as keepalived's
// nftables rules do; the set goes away at shutdown.
func TestEngineNoAcceptBlocksVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		var fw *fakeFirewall
		n1 := startNode(t, lan, "10.0.0.1", fastConf(100, "strict_mode on"), func(o *Options) {
			fw = &fakeFirewall{addrs: o.Addrs.(*fakeAddrs)}
			o.OpenFirewall = func() (Firewall, error) { return fw, nil }
		})
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		sets, early, _ := fw.log()
		if len(sets) != 1 || sets[0] != "10.0.0.100" || !early[0] {
			t.Fatalf("drop sets %q (before the VIPs: %v), want 10.0.0.100 applied before the VIP", sets, early)
		}
		// A better router takes over: the VIP and its drop go.
		n2 := startNode(t, lan, "10.0.0.2", fastConf(150, "strict_mode on"))
		eventually(t, "n2 master", func() bool { return n2.state(t) == "MASTER" && n1.state(t) == "BACKUP" })
		if sets, _, _ = fw.log(); sets[len(sets)-1] != "" {
			t.Errorf("drop sets %q after stepping down, want empty last", sets)
		}
		n1.stop()
		if _, _, closed := fw.log(); !closed {
			t.Errorf("drop set not removed at shutdown")
		}
	})
}

// With accept (the default outside strict mode) nothing is dropped and no
// firewall is set up.
func TestEngineAcceptModeNeedsNoFirewall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opened := false
		n1 := startNode(t, &fakeLAN{}, "10.0.0.1", fastConf(100, ""), func(o *Options) {
			o.OpenFirewall = func() (Firewall, error) { opened = true; return nil, errors.New("unused") }
		})
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		n1.stop()
		if opened {
			t.Errorf("a firewall was opened for an instance in accept mode")
		}
	})
}

// fakeRoutes records route and rule operations with the VIPs held then.
type fakeRoutes struct {
	mu    sync.Mutex
	addrs *fakeAddrs
	ops   []string
}

func (f *fakeRoutes) record(op string, routes []config.Route, rules []config.Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, r := range routes {
		s = append(s, r.Dst.String())
	}
	for _, r := range rules {
		s = append(s, "rule:"+strconv.Itoa(r.Table))
	}
	f.ops = append(f.ops, fmt.Sprintf("%s %s vips=%v", op, strings.Join(s, ","), f.addrs.held()))
}

func (f *fakeRoutes) Add(routes []config.Route, rules []config.Rule) error {
	f.record("add", routes, rules)
	return nil
}

func (f *fakeRoutes) Delete(routes []config.Route, rules []config.Rule) error {
	f.record("del", routes, rules)
	return nil
}

func (f *fakeRoutes) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ops)
}

// virtual_routes/virtual_rules follow mastership, after the VIPs in and
// before them out; static_routes live as long as the engine.
func TestEngineVirtualAndStaticRoutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		var rt *fakeRoutes
		conf := "static_routes {\n    10.80.0.0/16 dev eth0\n}\n" +
			fastConf(100, "virtual_routes {\n 10.90.0.0/16 via 10.0.0.254\n }\n virtual_rules {\n from 10.0.0.100 table 100\n }")
		n1 := startNode(t, lan, "10.0.0.1", conf, func(o *Options) {
			rt = &fakeRoutes{addrs: o.Addrs.(*fakeAddrs)}
			o.Routes = rt
		})
		eventually(t, "n1 master", func() bool { return n1.state(t) == "MASTER" })
		n2 := startNode(t, lan, "10.0.0.2", fastConf(150, ""))
		eventually(t, "n2 takes over", func() bool { return n2.state(t) == "MASTER" && n1.state(t) == "BACKUP" })
		n1.stop()
		want := []string{
			"del 10.90.0.0/16,rule:100 vips=[]",              // at start: a previous incarnation's
			"add 10.80.0.0/16 vips=[]",                       // static, at start
			"del 10.90.0.0/16,rule:100 vips=[]",              // entering BACKUP removes leftovers, as keepalived does
			"add 10.90.0.0/16,rule:100 vips=[10.0.0.100/24]", // master: after the VIP
			"del 10.90.0.0/16,rule:100 vips=[10.0.0.100/24]", // step-down: before the VIP goes
			"del 10.90.0.0/16,rule:100 vips=[]",              // shutdown's removal
			"del 10.80.0.0/16 vips=[]",                       // static, at exit
		}
		if diff := cmp.Diff(want, rt.log()); diff != "" {
			t.Errorf("route operations (-want +got):\n%s", diff)
		}
	})
}

// unicast_fault_no_peer with no peers: FAULT for good, never master.
func TestEngineUnicastFaultNoPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n1 := startNode(t, &fakeLAN{}, "10.0.0.1", fastConf(150, "unicast_peer {\n }\n unicast_fault_no_peer"))
		eventually(t, "n1 in FAULT", func() bool { return n1.state(t) == "FAULT" })
		time.Sleep(time.Second)
		if s := n1.state(t); s != "FAULT" || len(n1.addrs.held()) != 0 {
			t.Errorf("state %s holding %v, want FAULT and nothing", s, n1.addrs.held())
		}
	})
}

type fakeVMACs struct{}

func (fakeVMACs) CreateVMAC(parent string, vrid uint8, family int, name string) (string, error) {
	return name, nil
}
func (fakeVMACs) DeleteVMAC(string) error { return nil }

// use_vmac puts the socket on the VMAC; vmac_xmit_base moves it to the
// base interface, the VIPs stay on the VMAC.
func TestEngineVMACXmitBase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tt := range []struct{ extra, sock string }{
			{"use_vmac", "vrrp.51"},
			{"use_vmac\n vmac_xmit_base", "eth0"},
		} {
			lan := &fakeLAN{}
			var got string
			n := startNode(t, lan, "10.0.0.1", fastConf(150, tt.extra), func(o *Options) {
				o.VMACs = fakeVMACs{}
				conn := lan.dial(netip.MustParseAddr("10.0.0.1"))
				o.OpenConn = func(c vrrpconn.Config) (PacketConn, error) { got = c.Interface; return conn, nil }
			})
			eventually(t, "master", func() bool { return n.state(t) == "MASTER" })
			if got != tt.sock {
				t.Errorf("%q: socket on %q, want %q", tt.extra, got, tt.sock)
			}
			n.stop()
		}
	})
}

// mcast_dst_ip: the instance's adverts use its own multicast group.
func TestEngineMcastDstIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := &fakeLAN{}
		var group netip.Addr
		n := startNode(t, lan, "10.0.0.1", fastConf(150, "mcast_dst_ip 224.0.0.77"), func(o *Options) {
			conn := lan.dial(netip.MustParseAddr("10.0.0.1"))
			o.OpenConn = func(c vrrpconn.Config) (PacketConn, error) { group = c.Group; return conn, nil }
		})
		eventually(t, "master", func() bool { return n.state(t) == "MASTER" })
		if group != netip.MustParseAddr("224.0.0.77") {
			t.Errorf("socket group %v, want mcast_dst_ip 224.0.0.77", group)
		}
	})
}

// promote_secondaries is set on the interface for the run and restored.
func TestEnginePromoteSecondaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		n := startNode(t, &fakeLAN{}, "10.0.0.1", fastConf(150, "promote_secondaries"), func(o *Options) {
			o.Sysctl = func(ifname, key, value string) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, ifname+" "+key+"="+value)
				return "0", nil
			}
		})
		eventually(t, "master", func() bool { return n.state(t) == "MASTER" })
		n.stop()
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"eth0 promote_secondaries=1", "eth0 promote_secondaries=0"}; !slices.Equal(calls, want) {
			t.Errorf("sysctl calls %q, want %q", calls, want)
		}
	})
}
