package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

var nsCounter atomic.Int32

// pair is two namespaces joined by a veth: "node" (10.77.0.2/24) and
// "peer" (10.77.0.1/24, the gateway).
type pair struct {
	node, peer       string // namespace names
	nodeIf, peerIf   string
	nodeAddr, peerIP netip.Addr
	nodeNS           netns.NsHandle
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newPair(t *testing.T) *pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip binary (iproute2)")
	}
	n := nsCounter.Add(1)
	id := fmt.Sprintf("%d-%d", os.Getpid(), n)
	p := &pair{
		node: "vgwn-" + id, peer: "vgwp-" + id,
		nodeIf: fmt.Sprintf("gn%d%d", os.Getpid(), n), peerIf: fmt.Sprintf("gp%d%d", os.Getpid(), n),
		nodeAddr: netip.MustParseAddr("10.77.0.2"), peerIP: netip.MustParseAddr("10.77.0.1"),
	}
	if len(p.nodeIf) > 15 {
		t.Fatalf("interface name %q too long", p.nodeIf)
	}
	for _, ns := range []string{p.node, p.peer} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	ipCmd(t, "link", "add", p.nodeIf, "netns", p.node, "type", "veth", "peer", "name", p.peerIf, "netns", p.peer)
	ipCmd(t, "-n", p.node, "addr", "add", "10.77.0.2/24", "dev", p.nodeIf)
	ipCmd(t, "-n", p.peer, "addr", "add", "10.77.0.1/24", "dev", p.peerIf)
	for _, x := range [][2]string{{p.node, p.nodeIf}, {p.peer, p.peerIf}} {
		ipCmd(t, "-n", x[0], "link", "set", "lo", "up")
		ipCmd(t, "-n", x[0], "link", "set", x[1], "up")
	}
	h, err := netns.GetFromName(p.node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	p.nodeNS = h
	return p
}

// inNS runs f on a thread switched into ns (sockets opened there stay in it).
func inNS(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never switched back: it dies with the goroutine.
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

// nsProber runs each probe inside the node namespace and records results.
type nsProber struct {
	ns    netns.NsHandle
	inner Prober
	mu    sync.Mutex
	log   []bool
}

func (p *nsProber) Probe(ctx context.Context, target netip.Addr) error {
	err := inNS(p.ns, func() error { return p.inner.Probe(ctx, target) })
	p.mu.Lock()
	p.log = append(p.log, err == nil)
	p.mu.Unlock()
	return err
}

func (p *nsProber) results() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, ok := range p.log {
		if ok {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func waitStatus(t *testing.T, g *Gateway, want bool) Status {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case st := <-g.Changes():
			if st.Healthy == want {
				return st
			}
		case <-timeout:
			ok, reason := g.Healthy()
			t.Fatalf("gateway never became healthy=%v (now %v: %s)", want, ok, reason)
		}
	}
}

func TestNetProberLinkDownUp(t *testing.T) {
	for _, method := range []string{MethodARP, MethodICMP, MethodBoth} {
		t.Run(method, func(t *testing.T) {
			p := newPair(t)
			const fall, rise = 3, 2
			prober := &nsProber{ns: p.nodeNS, inner: &NetProber{Method: method, Interface: p.nodeIf}}
			g, err := New(Config{Targets: []netip.Addr{p.peerIP}, Interval: 100 * time.Millisecond,
				Fall: fall, Rise: rise, Method: method, Interface: p.nodeIf}, prober, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })

			st := waitStatus(t, g, true)
			t.Logf("healthy: %s", st.Reason)

			ipCmd(t, "-n", p.peer, "link", "set", p.peerIf, "down")
			down := time.Now()
			st = waitStatus(t, g, false)
			r := prober.results()
			t.Logf("unhealthy after %v: %s; probes %s", time.Since(down).Round(time.Millisecond), st.Reason, r)
			if !strings.HasSuffix(r, "+"+strings.Repeat("-", fall)) {
				t.Errorf("went down with probe history %s, want it to end in exactly %d failures", r, fall)
			}

			ipCmd(t, "-n", p.peer, "link", "set", p.peerIf, "up")
			up := time.Now()
			st = waitStatus(t, g, true)
			r = prober.results()
			t.Logf("healthy again after %v: %s; probes %s", time.Since(up).Round(time.Millisecond), st.Reason, r)
			if !strings.HasSuffix(r, "-"+strings.Repeat("+", rise)) {
				t.Errorf("came up with probe history %s, want it to end in exactly %d answers", r, rise)
			}
		})
	}
}

func TestProbeDuplicate(t *testing.T) {
	p := newPair(t)
	vip := netip.MustParseAddr("10.77.0.100")
	peerMAC := func() string {
		out, err := exec.Command("ip", "-n", p.peer, "-br", "link", "show", p.peerIf).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(string(out))[2]
	}()
	probe := func() (net.HardwareAddr, bool) {
		var mac net.HardwareAddr
		var found bool
		start := time.Now()
		err := inNS(p.nodeNS, func() error {
			var err error
			mac, found, err = ProbeDuplicate(context.Background(), p.nodeIf, vip, 300*time.Millisecond)
			return err
		})
		if err != nil {
			t.Fatalf("ProbeDuplicate: %v", err)
		}
		t.Logf("probe took %v: found=%v mac=%v", time.Since(start).Round(time.Millisecond), found, mac)
		return mac, found
	}

	if _, found := probe(); found {
		t.Errorf("VIP not held: found a holder")
	}
	ipCmd(t, "-n", p.peer, "addr", "add", vip.String()+"/32", "dev", p.peerIf)
	mac, found := probe()
	if !found || mac.String() != peerMAC {
		t.Errorf("VIP held by the peer: found=%v mac=%v, want true %s", found, mac, peerMAC)
	}
	ipCmd(t, "-n", p.peer, "addr", "del", vip.String()+"/32", "dev", p.peerIf)
	if _, found := probe(); found {
		t.Errorf("VIP released: still found a holder")
	}
}
