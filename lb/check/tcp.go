package check

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/vipd/vipd/config"
)

// DefaultConnectTimeout is keepalived's connect_timeout default
// (check_data.c).
const DefaultConnectTimeout = 5 * time.Second

// TCPCheck is TCP_CHECK: success when a TCP connection is established.
type TCPCheck struct {
	Addr    netip.AddrPort // connect_ip:connect_port
	BindTo  netip.Addr     // source address; invalid = any
	Timeout time.Duration  // connect_timeout; 0 = DefaultConnectTimeout
}

var _ Prober = (*TCPCheck)(nil)

// Probe implements Prober.
func (c *TCPCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	conn, err := dialer(c.BindTo, c.Timeout).DialContext(ctx, "tcp", c.Addr.String())
	if err != nil {
		return fail(start, errDetail(err))
	}
	_ = conn.Close()
	return success(start, "connected")
}

func dialer(bind netip.Addr, timeout time.Duration) *net.Dialer {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	d := &net.Dialer{Timeout: timeout}
	if bind.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: bind.AsSlice(), Zone: bind.Zone()}
	}
	return d
}

// target is connect_ip:connect_port, each defaulting to the real server's.
func target(ck *config.Checker, rs netip.AddrPort) netip.AddrPort {
	ip, port := ck.ConnectIP, ck.ConnectPort
	if !ip.IsValid() {
		ip = rs.Addr()
	}
	if port == 0 {
		port = rs.Port()
	}
	return netip.AddrPortFrom(ip, port)
}
