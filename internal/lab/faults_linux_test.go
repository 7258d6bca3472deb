package lab

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

func TestCut(t *testing.T) {
	requireRoot(t)
	requireTool(t, "nft")
	l := ForTest(t, Options{Nodes: 3})
	n1, n2, n3 := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	mustReach(t, n1, n2.Addr4) // warm ARP, so a pass below is not an ARP artefact

	if err := l.Cut(n1, n2); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, n1, n2.Addr4)
	mustNotReach(t, n2, n1.Addr4)
	// One-way probes: neither direction gets a single datagram through.
	s1, s2 := listenUDP(t, n1), listenUDP(t, n2)
	sendUDP(t, n1, s2.addr, "1to2")
	sendUDP(t, n2, s1.addr, "2to1")
	// The third node reaches both, and still hears both.
	mustReach(t, n3, n1.Addr4)
	mustReach(t, n3, n2.Addr4)
	mustReach(t, l.GW, n1.Addr4)
	if got := s2.recv(blockedWait); got != "" {
		t.Errorf("n2 received %q from n1 through the cut", got)
	}
	if got := s1.recv(blockedWait); got != "" {
		t.Errorf("n1 received %q from n2 through the cut", got)
	}

	// A second cut of n1 adds to the first.
	if err := l.Cut(n1, n3); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, n1, n3.Addr4)
	mustNotReach(t, n1, n2.Addr4)
	mustReach(t, n2, n3.Addr4)

	// Healing n1 ends both of its cuts (rules on n2 and n3 too) but not
	// a cut between two other nodes.
	if err := l.Cut(n2, n3); err != nil {
		t.Fatal(err)
	}
	if err := l.Heal(n1); err != nil {
		t.Fatal(err)
	}
	mustReach(t, n1, n2.Addr4)
	mustReach(t, n2, n1.Addr4)
	mustReach(t, n3, n1.Addr4)
	mustNotReach(t, n2, n3.Addr4)
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	mustReach(t, n2, n3.Addr4)
	for _, h := range l.Hosts() {
		out, err := h.Exec(t.Context(), "nft", "list", "tables")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), nftTable) {
			t.Errorf("%s: table %s left after HealAll", h.Name, nftTable)
		}
	}
}

func TestCutOneWay(t *testing.T) {
	requireRoot(t)
	requireTool(t, "nft")
	l := ForTest(t, Options{Nodes: 2})
	n1, n2 := l.Nodes[0], l.Nodes[1]
	s1, s2 := listenUDP(t, n1), listenUDP(t, n2)

	if err := l.CutOneWay(n1, n2); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, n2, s1.addr, "2to1")
	if !s1.recvMsg("2to1", 2*time.Second) {
		t.Errorf("n1 did not hear n2: the reverse direction must stay open")
	}
	sendUDP(t, n1, s2.addr, "1to2")
	if got := s2.recv(blockedWait); got != "" {
		t.Errorf("n2 received %q from n1 despite CutOneWay(n1, n2)", got)
	}
	// Both ways are needed for TCP: the probe fails from either side.
	mustNotReach(t, n2, n1.Addr4)

	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, n1, s2.addr, "1to2 healed")
	if !s2.recvMsg("1to2 healed", 2*time.Second) {
		t.Errorf("n2 did not hear n1 after HealAll")
	}
}

func TestIsolate(t *testing.T) {
	requireRoot(t)
	requireTool(t, "nft")
	l := ForTest(t, Options{Nodes: 3, IPv6: true})
	n1, n2, n3 := l.Nodes[0], l.Nodes[1], l.Nodes[2]

	if err := l.Isolate(n1); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, n1, l.GW.Addr4)
	mustNotReach(t, n2, n1.Addr4)
	mustNotReach(t, n2, n1.Addr6)
	mustReach(t, n2, n3.Addr4)
	mustReach(t, l.Client, n2.Addr6)

	if err := l.Heal(n1); err != nil {
		t.Fatal(err)
	}
	mustReach(t, n1, l.GW.Addr4)
	mustReach(t, n2, n1.Addr6)
	out, err := n1.Exec(t.Context(), "nft", "list", "tables")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), nftTable) {
		t.Errorf("table %s left after Heal:\n%s", nftTable, out)
	}
}

// TestLossy: 30 % loss each way on n1 loses about half of the echo round
// trips (1 − 0.7²); the bounds are ten standard deviations wide.
func TestLossy(t *testing.T) {
	requireRoot(t)
	requireTool(t, "nft")
	l := ForTest(t, Options{Nodes: 2})
	n1, n2 := l.Nodes[0], l.Nodes[1]
	mustReach(t, n2, n1.Addr4)
	if err := l.Lossy(n1, 30); err != nil {
		t.Fatal(err)
	}
	const sent = 300
	out, err := n2.Exec(t.Context(), "ping", "-n", "-q", "-c", fmt.Sprint(sent), "-i", "0.002", "-W", "1", n1.Addr4.String())
	var got int
	if _, serr := fmt.Sscanf(string(out[strings.Index(string(out), "transmitted, ")+len("transmitted, "):]), "%d received", &got); serr != nil {
		t.Fatalf("ping: %v (%v): %s", serr, err, out)
	}
	if got < sent*25/100 || got > sent*75/100 {
		t.Errorf("%d of %d echo round trips through 30%% loss each way, want about half", got, sent)
	}
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	mustReach(t, n2, n1.Addr4)
}

func TestLinkDownUp(t *testing.T) {
	requireRoot(t)
	l := ForTest(t, Options{Nodes: 2, IPv6: true})
	n1, n2 := l.Nodes[0], l.Nodes[1]
	if err := l.LinkDown(n1); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, n2, n1.Addr4)
	if err := l.LinkUp(n1); err != nil {
		t.Fatal(err)
	}
	mustReach(t, n2, n1.Addr4)
	mustReach(t, n2, n1.Addr6) // IPv6 addresses survived the link down
	out, err := n1.Exec(t.Context(), "ip", "route", "show", "default")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "via "+l.GW.Addr4.String()) {
		t.Errorf("default route not restored after LinkUp: %q", out)
	}
}

func TestNetem(t *testing.T) {
	requireRoot(t)
	requireTool(t, "tc")
	requireTool(t, "unshare")
	l := ForTest(t, Options{Nodes: 1})
	n1 := l.Nodes[0]
	err := l.Netem(n1, 20*time.Millisecond, 1)
	if errors.Is(err, ErrNoNetem) {
		// This kernel (the CI one too) has no sch_netem: the error must say so.
		if !strings.HasPrefix(err.Error(), "lab: tc netem not available in this kernel (needs sch_netem)") {
			t.Errorf("error %q does not start with the documented message", err)
		}
		if err2 := l.Netem(n1, 0, 0); !errors.Is(err2, ErrNoNetem) {
			t.Errorf("second call = %v, want the cached ErrNoNetem", err2)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := n1.Exec(t.Context(), "tc", "qdisc", "show", "dev", "eth0")
	if err != nil || !strings.Contains(string(out), "netem") {
		t.Errorf("netem not installed (%v): %s", err, out)
	}
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	if out, _ := n1.Exec(t.Context(), "tc", "qdisc", "show", "dev", "eth0"); strings.Contains(string(out), "netem") {
		t.Errorf("netem left after HealAll: %s", out)
	}
}

// mcastConn is a raw VRRP (IP protocol 112) socket, as vipd and
// keepalived use, joined to the VRRP group on eth0.
type mcastConn struct {
	recv func(wait time.Duration) (string, bool)
	send func(msg string) error
}

func vrrpConn(t *testing.T, h *Host, v6 bool) *mcastConn {
	t.Helper()
	var mc mcastConn
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		if !v6 {
			c, err := net.ListenPacket("ip4:112", "0.0.0.0")
			if err != nil {
				return err
			}
			t.Cleanup(func() { c.Close() })
			p := ipv4.NewPacketConn(c)
			group := &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)}
			if err := p.JoinGroup(ifi, group); err != nil {
				return err
			}
			p.SetMulticastInterface(ifi)
			p.SetMulticastTTL(255)
			p.SetMulticastLoopback(false)
			mc.send = func(msg string) error {
				return send3(func() error { _, err := p.WriteTo([]byte(msg), nil, group); return err })
			}
			mc.recv = readFunc(c)
			return nil
		}
		c, err := net.ListenPacket("ip6:112", "::")
		if err != nil {
			return err
		}
		t.Cleanup(func() { c.Close() })
		p := ipv6.NewPacketConn(c)
		// A numeric zone: a zone name is resolved in the namespace of
		// whichever thread writes, not the socket's.
		group := &net.IPAddr{IP: net.ParseIP("ff02::12"), Zone: strconv.Itoa(ifi.Index)}
		if err := p.JoinGroup(ifi, group); err != nil {
			return err
		}
		p.SetMulticastInterface(ifi)
		p.SetMulticastHopLimit(255)
		p.SetMulticastLoopback(false)
		mc.send = func(msg string) error {
			return send3(func() error { _, err := p.WriteTo([]byte(msg), nil, group); return err })
		}
		mc.recv = readFunc(c)
		return nil
	})
	if err != nil {
		t.Fatalf("VRRP socket in %s: %v", h.Name, err)
	}
	return &mc
}

// dumpCounters logs interface and IP counters, to tell where packets died.
func dumpCounters(t *testing.T, l *Lab) {
	t.Helper()
	for _, h := range l.Nodes {
		out, _ := h.Exec(t.Context(), "ip", "-s", "-d", "link", "show", "eth0")
		t.Logf("%s link:\n%s", h.Name, out)
		out, _ = h.Exec(t.Context(), "ip", "maddr", "show", "dev", "eth0")
		t.Logf("%s maddr:\n%s", h.Name, out)
		out, _ = h.Exec(t.Context(), "grep", "-E", "^(Ip|Icmp):", "/proc/net/snmp")
		t.Logf("%s snmp:\n%s", h.Name, out)
		out, _ = h.Exec(t.Context(), "nft", "list", "ruleset")
		t.Logf("%s nft:\n%s", h.Name, out)
	}
	out, _ := exec.Command("ip", "-n", l.Switch, "-s", "link").CombinedOutput()
	t.Logf("switch:\n%s", out)
	out, _ = exec.Command("bridge", "-n", l.Switch, "link").CombinedOutput()
	t.Logf("bridge:\n%s", out)
}

// send3 sends each advert three times, as a burst of VRRP adverts would:
// on a loaded 2-CPU machine the veth backlog may drop one.
func send3(send func() error) error {
	for range 3 {
		if err := send(); err != nil {
			return err
		}
	}
	return nil
}

func readFunc(c net.PacketConn) func(time.Duration) (string, bool) {
	return func(wait time.Duration) (string, bool) {
		buf := make([]byte, 1500)
		c.SetReadDeadline(time.Now().Add(wait))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return "", false
		}
		return string(buf[:n]), true
	}
}

// recvMsg waits for msg, skipping anything else (duplicates of older ones).
func (m *mcastConn) recvMsg(msg string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if got, ok := m.recv(time.Until(deadline)); ok && got == msg {
			return true
		}
	}
	return false
}

// TestMulticastVRRP checks that a VRRP advert to 224.0.0.18 (ff02::12)
// from n1 is flooded by the bridge to the other nodes, and that Cut stops
// it towards the cut node only.
func TestMulticastVRRP(t *testing.T) {
	requireRoot(t)
	requireTool(t, "nft")
	l := ForTest(t, Options{Nodes: 3, IPv6: true})
	n1, n2, n3 := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	for _, tc := range []struct {
		name string
		v6   bool
	}{{"224.0.0.18", false}, {"ff02::12", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, r2, r3 := vrrpConn(t, n1, tc.v6), vrrpConn(t, n2, tc.v6), vrrpConn(t, n3, tc.v6)
			if err := s.send("advert 1"); err != nil {
				t.Fatal(err)
			}
			got2, got3 := r2.recvMsg("advert 1", 2*time.Second), r3.recvMsg("advert 1", 2*time.Second)
			if !got2 || !got3 {
				dumpCounters(t, l)
				t.Fatalf("advert from n1: received by n2 %v, by n3 %v; want both", got2, got3)
			}

			if err := l.Cut(n1, n2); err != nil {
				t.Fatal(err)
			}
			if err := s.send("advert 2"); err != nil {
				t.Fatal(err)
			}
			if !r3.recvMsg("advert 2", 2*time.Second) {
				t.Fatalf("n3 missed advert 2: the cut must not affect it")
			}
			// n3 has it, so the bridge has flooded it; n2 must have dropped it.
			if r2.recvMsg("advert 2", blockedWait) {
				t.Errorf("n2 received advert 2 through the cut")
			}

			if err := l.HealAll(); err != nil {
				t.Fatal(err)
			}
			if err := s.send("advert 3"); err != nil {
				t.Fatal(err)
			}
			if !r2.recvMsg("advert 3", 2*time.Second) {
				t.Errorf("n2 missed advert 3 after HealAll")
			}
		})
	}
}
