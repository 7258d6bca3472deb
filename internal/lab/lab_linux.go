package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Options describe a lab. The zero value is a 3-node IPv4 lab.
type Options struct {
	// Prefix starts every namespace name (default DefaultPrefix); Sweep
	// with the same prefix removes what a crashed run left behind.
	Prefix string
	// Name, if set, replaces Prefix plus the generated id, giving stable
	// names such as "demo-n1" for humans (viplab). New fails if a lab of
	// that name exists.
	Name string
	// Nodes is the number of nodes n1..nN (default 3, at most 89).
	Nodes int
	// IPv6 adds global addresses from fd00:99:X::/64 besides IPv4.
	IPv6 bool
	// Subnet is X in 10.99.X.0/24 and fd00:99:X::/64 (1-254); 0 picks one
	// that differs between the labs of one process.
	Subnet int
	// Dir receives the logs of processes started without a log path. If
	// empty a temporary directory is made on first use and removed by Close.
	Dir string
}

// Lab is a LAN of network namespaces: a switch namespace holding bridge
// br0, and host namespaces (nodes, gateway, client) each with one veth eth0
// plugged into it. Nothing is created in the host's root namespace.
type Lab struct {
	Name   string // base of every namespace name: prefix-id, or Options.Name
	Switch string // namespace holding the bridge
	Net4   netip.Prefix
	Net6   netip.Prefix // valid only with Options.IPv6
	Nodes  []*Host
	GW     *Host
	Client *Host
	Dir    string // process logs; set on first use if Options.Dir was empty

	ipv6     bool
	slot     int  // index in live, -1 for a named lab
	attached bool // made by Attach: Close releases handles, keeps namespaces
	sw       nsRef

	mu        sync.Mutex // guards the fields below
	created   []string   // namespace names to delete on Close, in creation order
	ownDir    bool
	procs     []*Proc
	nlogs     int // numbers default log files
	observers []*Observer
	faults    map[*Host]faults // desired nft state per host
	netem     map[*Host]bool   // hosts with a netem qdisc
	closed    bool
}

// nsRef is an open namespace and a netlink handle into it; openNS sets
// both or neither, and the zero value is closed. (A zero NsHandle is fd 0,
// not "none", so nl is what tells an open ref.)
type nsRef struct {
	ns netns.NsHandle
	nl *netlink.Handle
}

func (r *nsRef) close() {
	if r.nl == nil {
		return
	}
	r.nl.Close()
	r.ns.Close()
	r.nl = nil
}

// live tracks this process's labs so generated ids never collide and a
// namespace carrying our own pid but no live slot is known to be stale.
var live struct {
	sync.Mutex
	slots [len(slotDigits)]bool
	seq   int
}

func takeSlot() (slot, seq int, err error) {
	live.Lock()
	defer live.Unlock()
	for i := range live.slots {
		s := (live.seq + i) % len(live.slots)
		if !live.slots[s] {
			live.slots[s] = true
			live.seq++
			return s, live.seq, nil
		}
	}
	return 0, 0, fmt.Errorf("lab: more than %d labs alive in one process", len(live.slots))
}

func releaseSlot(s int) {
	live.Lock()
	defer live.Unlock()
	live.slots[s] = false
}

func slotLive(s int) bool {
	live.Lock()
	defer live.Unlock()
	return live.slots[s]
}

// New builds a lab. On error everything created so far is removed.
func New(ctx context.Context, o Options) (*Lab, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes < 1 || o.Nodes > 89 {
		return nil, fmt.Errorf("lab: %d nodes: want 1-89 (addresses .11-.99)", o.Nodes)
	}
	l := &Lab{slot: -1, ipv6: o.IPv6, Dir: o.Dir, faults: map[*Host]faults{}}
	seq := 0
	if o.Name != "" {
		if err := validPrefix(o.Name); err != nil {
			return nil, err
		}
		l.Name = o.Name
	} else {
		if err := validPrefix(o.Prefix); err != nil {
			return nil, err
		}
		s, q, err := takeSlot()
		if err != nil {
			return nil, err
		}
		l.slot, seq = s, q
		l.Name = o.Prefix + "-" + genID(os.Getpid(), s)
	}
	x := o.Subnet
	if x == 0 {
		x = 1 + (os.Getpid()*37+seq)%254
	}
	if x < 1 || x > 254 {
		l.Close()
		return nil, fmt.Errorf("lab: subnet %d: want 1-254", x)
	}
	l.Net4 = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 99, byte(x), 0}), 24)
	if o.IPv6 {
		// X's decimal digits read as hex, so subnet 233 is fd00:99:233::/64.
		hx, _ := strconv.ParseUint(strconv.Itoa(x), 16, 16)
		l.Net6 = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x99, byte(hx >> 8), byte(hx)}), 64)
	}
	if err := l.build(ctx, o.Nodes, o.Name != ""); err != nil {
		return nil, errors.Join(fmt.Errorf("lab %s: %w", l.Name, err), l.Close())
	}
	return l, nil
}

// ForTest builds a lab for t, removed by t.Cleanup even if the test fails;
// process logs go under t.TempDir and their tails are logged on failure.
func ForTest(t testing.TB, o Options) *Lab {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	l, err := New(t.Context(), o)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			l.logTails(t)
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
	})
	return l
}

// Hosts returns the nodes, then the gateway and the client.
func (l *Lab) Hosts() []*Host {
	hs := append([]*Host(nil), l.Nodes...)
	if l.GW != nil {
		hs = append(hs, l.GW)
	}
	if l.Client != nil {
		hs = append(hs, l.Client)
	}
	return hs
}

// Host finds a host by name ("n1", "gw", "client"); nil if absent.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.Hosts() {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Addr4 returns 10.99.X.i, e.g. Addr4(200) for a VIP.
func (l *Lab) Addr4(i byte) netip.Addr {
	a := l.Net4.Addr().As4()
	a[3] = i
	return netip.AddrFrom4(a)
}

// Addr6 returns fd00:99:X::i (i printed in hex, so Addr6(0x200) is ...::200).
func (l *Lab) Addr6(i uint16) netip.Addr {
	a := l.Net6.Addr().As16()
	a[14], a[15] = byte(i>>8), byte(i)
	return netip.AddrFrom16(a)
}

// Close stops the lab's observers, kills every process it started and any
// other process left in its namespaces, and deletes its namespaces (which
// deletes their links). It works on a partly built lab and is idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs, obs, created := l.procs, l.observers, l.created
	l.mu.Unlock()

	for _, o := range obs {
		o.Stop()
	}
	var errs []error
	for _, p := range procs {
		if err := p.killGroup(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range l.Hosts() {
		h.ref.close()
	}
	l.sw.close()
	if !l.attached {
		for i := len(created) - 1; i >= 0; i-- {
			if err := removeNS(created[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	l.mu.Lock()
	if l.ownDir {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, fmt.Errorf("lab: remove log dir: %w", err))
		}
	}
	l.mu.Unlock()
	if l.slot >= 0 {
		releaseSlot(l.slot)
	}
	return errors.Join(errs...)
}

func (l *Lab) logTails(t testing.TB) {
	l.mu.Lock()
	procs := append([]*Proc(nil), l.procs...)
	l.mu.Unlock()
	for _, p := range procs {
		t.Logf("--- %s pid %d %v, log %s (tail):\n%s", p.host.Name, p.Pid, p.argv, p.Log, tail(p.Log, 40))
	}
}
