package check

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// UDPCheck is UDP_CHECK (keepalived check_udp.c, layer4.c): one datagram
// to the real server, then wait up to Timeout. An ICMP unreachable fails
// the check. Without RequireReply, silence is success; with it, a reply
// must come. Only when Reply is set is the reply checked: its length
// must be MinReply..MaxReply and it must equal Reply, except where
// ReplyMask has bits set, over the shorter of the two (check_udp_reply).
type UDPCheck struct {
	Addr         netip.AddrPort
	BindTo       netip.Addr
	Timeout      time.Duration
	Payload      []byte // nil: keepalived's 32-byte filler
	RequireReply bool
	Reply        []byte
	ReplyMask    []byte // nil or len(Reply) bytes
	MinReply     int
	MaxReply     int
}

var _ Prober = (*UDPCheck)(nil)

// Probe implements Prober.
func (c *UDPCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, connectTimeout(c.Timeout))
	defer cancel()
	conn, err := dialer("udp", c.BindTo, c.Timeout).DialContext(ctx, "udp", c.Addr.String())
	if err != nil {
		return fail(start, errDetail(err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	payload := c.Payload
	if len(payload) == 0 {
		payload = filler(32) // layer4.c UDP_BUFSIZE
	}
	if _, err := conn.Write(payload); err != nil {
		return fail(start, errDetail(err))
	}
	buf := make([]byte, c.MaxReply+1) // one more, to see a reply too long
	n, err := conn.Read(buf)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && !c.RequireReply:
		return success(start, "no reply")
	case err != nil:
		return fail(start, errDetail(err))
	}
	if c.Reply != nil {
		if detail := c.checkReply(buf[:n]); detail != "" {
			return fail(start, detail)
		}
	}
	return success(start, "reply")
}

// checkReply returns why b is not the wanted reply, or "".
func (c *UDPCheck) checkReply(b []byte) string {
	if len(b) < c.MinReply || len(b) > c.MaxReply {
		return fmt.Sprintf("reply length %d", len(b))
	}
	for i := 0; i < len(b) && i < len(c.Reply); i++ {
		ignore := byte(0)
		if c.ReplyMask != nil {
			ignore = c.ReplyMask[i]
		}
		if (b[i]^c.Reply[i])&^ignore != 0 {
			return "reply mismatch"
		}
	}
	return ""
}
