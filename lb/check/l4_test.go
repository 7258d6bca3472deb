package check

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

func TestPingCheck(t *testing.T) {
	if c, _, err := listenICMP(false, netip.Addr{}); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("no ICMP socket: not in ping_group_range and no CAP_NET_RAW: %v", err)
		}
		t.Fatal(err)
	} else {
		c.Close()
	}
	tests := []struct {
		name string
		ck   config.Checker
		rs   netip.AddrPort
		ok   bool
	}{
		{"IPv4 loopback answers", config.Checker{Kind: config.CheckPing}, netip.MustParseAddrPort("127.0.0.1:0"), true},
		{"connect_ip", config.Checker{Kind: config.CheckPing, ConnectIP: loopback}, netip.MustParseAddrPort("192.0.2.1:80"), true},
		{"IPv6 loopback answers", config.Checker{Kind: config.CheckPing}, netip.MustParseAddrPort("[::1]:0"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rs.Addr().Is6() {
				ln, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				ln.Close()
			}
			p, err := NewProber(&tt.ck, tt.rs, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Several probes: each has its own sequence number.
			for range 3 {
				r := p.Probe(t.Context())
				t.Logf("%+v", r)
				if r.OK != tt.ok {
					t.Fatalf("OK = %v, want %v (%s)", r.OK, tt.ok, r.Detail)
				}
			}
		})
	}
}

// udpServer answers every datagram with reply(datagram); a nil answer is
// silence.
func udpServer(t *testing.T, reply func([]byte) []byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(buf[:n]); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func closedUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return ap
}

func TestUDPCheck(t *testing.T) {
	echo := udpServer(t, func(b []byte) []byte { return append([]byte(nil), b...) })
	silent := udpServer(t, func([]byte) []byte { return nil })
	fixed := udpServer(t, func([]byte) []byte { return []byte{0x12, 0x34, 0x56, 0x78} })
	closed := closedUDPPort(t)
	got := make(chan []byte, 1)
	recorder := udpServer(t, func(b []byte) []byte { got <- append([]byte(nil), b...); return []byte("ok") })

	udp := func(mod func(*config.Checker)) config.Checker {
		ck := config.Checker{Kind: config.CheckUDP, ConnectTimeout: 300 * time.Millisecond, UDPMaxReply: 255}
		if mod != nil {
			mod(&ck)
		}
		return ck
	}
	tests := []struct {
		name string
		ck   config.Checker
		rs   netip.AddrPort
		want probeOut
	}{
		{"echo", udp(nil), echo, probeOut{true, "reply", -1}},
		{"port unreachable", udp(nil), closed, probeOut{false, "connect refused", -1}},
		{"silence is success", udp(nil), silent, probeOut{true, "no reply", -1}},
		{"require_reply: silence fails", udp(func(c *config.Checker) { c.UDPRequireReply = true }), silent, probeOut{false, "timed_out", -1}},
		{"require_reply: any reply", udp(func(c *config.Checker) { c.UDPRequireReply = true }), fixed, probeOut{true, "reply", -1}},
		{"reply matches", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPReply = true, []byte{0x12, 0x34}
		}), fixed, probeOut{true, "reply", -1}},
		{"reply mismatch", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPReply = true, []byte{0x12, 0x35}
		}), fixed, probeOut{false, "reply mismatch", -1}},
		{"wildcard nibble", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPReply, c.UDPReplyMask = true, []byte{0x12, 0x30}, []byte{0, 0x0f}
		}), fixed, probeOut{true, "reply", -1}},
		{"longer expected reply: only the received length is compared", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPReply = true, []byte{0x12, 0x34, 0x56, 0x78, 0x9a}
		}), fixed, probeOut{true, "reply", -1}},
		{"reply too long", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPReply, c.UDPMaxReply = true, []byte{0x12}, 3
		}), fixed, probeOut{false, "reply length 4", -1}},
		{"reply too short", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPReply, c.UDPMinReply = true, []byte{0x12}, 5
		}), fixed, probeOut{false, "reply length 4", -1}},
		{"lengths are not checked without a reply pattern (check_udp.c)", udp(func(c *config.Checker) {
			c.UDPRequireReply, c.UDPMinReply = true, 5
		}), fixed, probeOut{true, "reply", -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probe(t, &tt.ck, tt.rs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("payload", func(t *testing.T) {
		for _, tc := range []struct {
			payload, want []byte
		}{
			{nil, []byte("keepalived check - keepalived ch")},
			{[]byte{0xde, 0xad}, []byte{0xde, 0xad}},
		} {
			ck := udp(func(c *config.Checker) { c.UDPPayload = tc.payload })
			if r := probe(t, &ck, recorder); !r.OK {
				t.Fatalf("probe: %+v", r)
			}
			if diff := cmp.Diff(tc.want, <-got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		}
	})
}

// smtpServer runs script against each connection: lines starting with
// "<" are sent, lines starting with ">" are read and must match.
func smtpServer(t *testing.T, script ...string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for _, l := range script {
					if l == "=" { // say nothing until the client leaves
						_, _ = r.ReadString(0)
						return
					}
					if out, ok := strings.CutPrefix(l, "<"); ok {
						_, _ = c.Write([]byte(out))
						continue
					}
					line, err := r.ReadString('\n')
					if err != nil || line != strings.TrimPrefix(l, ">") {
						t.Errorf("server read %q (%v), want %q", line, err, strings.TrimPrefix(l, ">"))
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

func TestSMTPCheck(t *testing.T) {
	good := smtpServer(t, "<220 mx.example ESMTP\r\n", ">HELO smtpchecker.keepalived.org\r\n", "<250 mx.example\r\n", ">QUIT\r\n", "<221 bye\r\n")
	helo := smtpServer(t, "<220 mx.example ESMTP\r\n", ">HELO lb1.example\r\n", "<250 mx.example\r\n", ">QUIT\r\n", "<221 bye\r\n")
	busy := smtpServer(t, "<421 busy\r\n")
	multi := smtpServer(t, "<220-mx.example\r\n220 ESMTP\r\n")
	refuseHelo := smtpServer(t, "<220 mx.example\r\n", ">HELO smtpchecker.keepalived.org\r\n", "<501 no\r\n")
	mute := smtpServer(t, "=")
	tests := []struct {
		name   string
		rs     netip.AddrPort
		helo   string
		wantOK bool
		detail string
	}{
		{"banner, HELO, QUIT", good, "", true, "smtp ok"},
		{"helo_name", helo, "lb1.example", true, "smtp ok"},
		{"bad banner", busy, "", false, `bad banner "421 busy\r"`},
		{"multi-line banner fails, as in keepalived", multi, "", false, `bad banner "220-mx.example\r"`},
		{"HELO refused", refuseHelo, "", false, `bad HELO reply "501 no\r"`},
		{"no banner", mute, "", false, "banner: timed_out"},
		{"refused", closedPort(t), "", false, "connect refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := config.Checker{Kind: config.CheckSMTP, ConnectTimeout: 300 * time.Millisecond, SMTPHelo: tt.helo}
			if diff := cmp.Diff(probeOut{tt.wantOK, tt.detail, -1}, probe(t, &ck, tt.rs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fakeICMP answers an echo request with replies(request), then stays
// silent until its deadline.
type fakeICMP struct {
	replies  func(req *icmp.Echo) [][]byte
	from     net.Addr
	queue    [][]byte
	wake     chan struct{}
	mu       sync.Mutex // guards deadline: the probe's ctx sets it too
	deadline time.Time
}

func (f *fakeICMP) WriteTo(b []byte, _ net.Addr) (int, error) {
	m, err := icmp.ParseMessage(1, b)
	if err != nil {
		return 0, err
	}
	f.queue = f.replies(m.Body.(*icmp.Echo))
	return len(b), nil
}

func (f *fakeICMP) ReadFrom(b []byte) (int, net.Addr, error) {
	if len(f.queue) > 0 {
		n := copy(b, f.queue[0])
		f.queue = f.queue[1:]
		return n, f.from, nil
	}
	for {
		f.mu.Lock()
		dl := f.deadline
		f.mu.Unlock()
		select {
		case <-time.After(time.Until(dl)):
			return 0, nil, os.ErrDeadlineExceeded
		case <-f.wake:
		}
	}
}

func (f *fakeICMP) SetDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeICMP) Close() error { return nil }

// TestPingMatching: only an echo reply with our sequence number (and our
// id on a raw socket) from the real server counts.
func TestPingMatching(t *testing.T) {
	rs := netip.MustParseAddr("10.0.0.2")
	reply := func(id, seq int) []byte {
		b, err := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &icmp.Echo{ID: id, Seq: seq, Data: pingPayload}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	junk := func(req *icmp.Echo) [][]byte {
		req2, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: req}).Marshal(nil)
		return [][]byte{reply(req.ID, req.Seq+1), reply(req.ID+1, req.Seq), req2}
	}
	tests := []struct {
		name    string
		from    string
		replies func(req *icmp.Echo) [][]byte
		want    probeOut
	}{
		{"reply after others", "10.0.0.2", func(req *icmp.Echo) [][]byte { return append(junk(req), reply(req.ID, req.Seq)) }, probeOut{true, "echo reply", -1}},
		{"only others", "10.0.0.2", junk, probeOut{false, "timed_out", -1}},
		{"from another address", "10.0.0.3", func(req *icmp.Echo) [][]byte { return [][]byte{reply(req.ID, req.Seq)} }, probeOut{false, "timed_out", -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeICMP{replies: tt.replies, from: &net.IPAddr{IP: net.ParseIP(tt.from)}, wake: make(chan struct{}, 1)}
			c := &PingCheck{Addr: rs, Timeout: 200 * time.Millisecond,
				listen: func(bool, netip.Addr) (icmpConn, bool, error) { return f, true, nil }}
			r := c.Probe(t.Context())
			if diff := cmp.Diff(tt.want, probeOut{r.OK, r.Detail, r.Weight}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSMTPStatus(t *testing.T) {
	for line, want := range map[string]int{"220 x": 220, "220": 220, "220-x": -1, "220\r": -1, "2200 x": -1, "22": -1, "abc": -1, "": -1} {
		if got := smtpStatus(line); got != want {
			t.Errorf("smtpStatus(%q) = %d, want %d", line, got, want)
		}
	}
}
