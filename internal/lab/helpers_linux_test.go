package lab

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (make test installs it): %v", name, err)
	}
}

// netnsList returns the names `ip netns list` prints.
func netnsList(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			names[f[0]] = true
		}
	}
	return names
}

// mustReach fails unless from and addr exchange packets. A first attempt
// may need ARP/ND, so it gets a few tries.
func mustReach(t *testing.T, from *Host, addr netip.Addr) {
	t.Helper()
	var err error
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err = from.Reach(ctx, addr)
		cancel()
		if err == nil {
			return
		}
	}
	t.Errorf("%s -> %v: %v", from.Name, addr, err)
}

// blockedWait is how long a probe that should be dropped is given: a
// dropped packet never answers, so this only bounds the test's runtime.
const blockedWait = 300 * time.Millisecond

func mustNotReach(t *testing.T, from *Host, addr netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), blockedWait)
	defer cancel()
	if err := from.Reach(ctx, addr); err == nil {
		t.Errorf("%s -> %v: reachable, want blocked", from.Name, addr)
	}
}

// udpSink is a UDP socket opened inside a host namespace.
type udpSink struct {
	c    *net.UDPConn
	addr netip.AddrPort
}

func listenUDP(t *testing.T, h *Host) *udpSink {
	t.Helper()
	var c *net.UDPConn
	err := h.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(h.Addr4, 0)))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpSink{c: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

// sendUDP sends msg from h to dst a few times (the first may wait on ARP).
func sendUDP(t *testing.T, h *Host, dst netip.AddrPort, msg string) {
	t.Helper()
	err := h.Do(func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
		defer c.Close()
		for range 3 {
			if _, err := c.Write([]byte(msg)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send from %s: %v", h.Name, err)
	}
}

// recv returns the next datagram's text or "" if none arrives within wait.
func (s *udpSink) recv(wait time.Duration) string {
	buf := make([]byte, 1500)
	s.c.SetReadDeadline(time.Now().Add(wait))
	n, _, err := s.c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// recvMsg waits for a datagram equal to msg, skipping older duplicates.
func (s *udpSink) recvMsg(msg string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if s.recv(time.Until(deadline)) == msg {
			return true
		}
	}
	return false
}

func addAddr(t *testing.T, h *Host, a netip.Addr) {
	t.Helper()
	p := netip.PrefixFrom(a, a.BitLen())
	if err := h.ref.nl.AddrAdd(h.eth, &netlink.Addr{IPNet: prefixNet(p), Flags: unix.IFA_F_NODAD}); err != nil {
		t.Fatalf("add %v to %s: %v", a, h.Name, err)
	}
}

func delAddr(t *testing.T, h *Host, a netip.Addr) {
	t.Helper()
	p := netip.PrefixFrom(a, a.BitLen())
	if err := h.ref.nl.AddrDel(h.eth, &netlink.Addr{IPNet: prefixNet(p)}); err != nil {
		t.Fatalf("del %v from %s: %v", a, h.Name, err)
	}
}

// eventually polls cond until it holds or limit passes; for states the
// kernel reaches asynchronously (a signalled process), not for timing.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tk.C:
		case <-deadline:
			t.Fatalf("not within %v: %s", limit, what)
		}
	}
}

// procState is the state letter in /proc/PID/stat ("" if gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

func procGone(pid int) bool {
	st := procState(pid)
	return st == "" || st == "Z" || st == "X"
}
