package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// PingCheck is PING_CHECK: one ICMP (or ICMPv6) echo request to the real
// server; success when the matching echo reply comes within Timeout
// (keepalived check_ping.c).
type PingCheck struct {
	Addr    netip.Addr    // connect_ip, default the real server's
	BindTo  netip.Addr    // source address; invalid = any
	Timeout time.Duration // connect_timeout; 0 = DefaultConnectTimeout

	seq atomic.Uint32 // echo sequence number, one per probe as keepalived's seq_no
	// listen opens the socket; nil means listenICMP. Tests inject it.
	listen func(v6 bool, bind netip.Addr) (icmpConn, bool, error)
}

// icmpConn is what a probe needs of an ICMP socket (*icmp.PacketConn).
type icmpConn interface {
	WriteTo(b []byte, to net.Addr) (int, error)
	ReadFrom(b []byte) (int, net.Addr, error)
	SetDeadline(t time.Time) error
	Close() error
}

var _ Prober = (*PingCheck)(nil)

// pingPayload is keepalived's echo data: "keepalived check - " repeated
// over ICMP_BUFSIZE (128) bytes (check_ping.c ping_it, layer4.c set_buf).
var pingPayload = filler(128)

// filler is keepalived's set_buf: "keepalived check - " repeated to n bytes.
func filler(n int) []byte {
	const s = "keepalived check - "
	b := make([]byte, n)
	for i := range b {
		b[i] = s[i%len(s)]
	}
	return b
}

// Probe implements Prober.
func (c *PingCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout(c.Timeout))
	defer cancel()
	dst := c.Addr.Unmap()
	listen := c.listen
	if listen == nil {
		listen = listenICMP
	}
	conn, raw, err := listen(dst.Is6(), c.BindTo)
	if err != nil {
		return fail(start, "icmp socket: "+errDetail(err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}

	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1 // iana.ProtocolICMP
	if dst.Is6() {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	// A datagram ICMP socket has its id set by the kernel, which also
	// delivers only the replies to it; a raw socket sees every reply, so
	// ours carry a random id.
	id := int(rand.Uint32() & 0xffff)
	seq := int(uint16(c.seq.Add(1)))
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: pingPayload}}
	pkt, err := msg.Marshal(nil)
	if err != nil {
		return fail(start, fmt.Sprintf("marshal echo: %v", err))
	}
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if !raw {
		to = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	if _, err := conn.WriteTo(pkt, to); err != nil {
		return fail(start, errDetail(err))
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return fail(start, errDetail(err))
		}
		if fromAddr(from) != dst.WithZone("") {
			continue
		}
		b := buf[:n]
		if raw && !dst.Is6() && n >= 20 && b[0]>>4 == 4 {
			b = b[int(b[0]&0x0f)*4:] // a raw IPv4 socket hands over the IP header
		}
		m, err := icmp.ParseMessage(proto, b)
		if err != nil || m.Type != replyType {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.Seq != seq || (raw && echo.ID != id) {
			continue // another probe's reply, or someone else's
		}
		return success(start, "echo reply")
	}
}

// listenICMP opens a datagram ICMP socket as keepalived does; where
// net.ipv4.ping_group_range does not admit us (keepalived widens that
// sysctl, vipd does not change it) it falls back to a raw socket, which
// needs CAP_NET_RAW.
func listenICMP(v6 bool, bind netip.Addr) (icmpConn, bool, error) {
	laddr := "0.0.0.0"
	dgram, rawNet := "udp4", "ip4:icmp"
	if v6 {
		laddr, dgram, rawNet = "::", "udp6", "ip6:ipv6-icmp"
	}
	if bind.IsValid() {
		laddr = bind.String()
	}
	c, err := icmp.ListenPacket(dgram, laddr)
	if err == nil {
		return c, false, nil
	}
	c, rerr := icmp.ListenPacket(rawNet, laddr)
	if rerr != nil {
		return nil, false, errors.Join(err, rerr)
	}
	return c, true, nil
}

func fromAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	}
	x, _ := netip.AddrFromSlice(ip)
	return x.Unmap()
}
