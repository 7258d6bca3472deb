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
	conn, err := dialer("tcp", c.BindTo, c.Timeout).DialContext(ctx, "tcp", c.Addr.String())
	if err != nil {
		return fail(start, errDetail(err))
	}
	_ = conn.Close()
	return success(start, "connected")
}

// connectTimeout is connect_timeout, or keepalived's default when unset.
func connectTimeout(t time.Duration) time.Duration {
	if t <= 0 {
		return DefaultConnectTimeout
	}
	return t
}

// dialer dials network ("tcp" or "udp") from bindto, when set, within the
// connect timeout.
func dialer(network string, bind netip.Addr, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: connectTimeout(timeout)}
	if bind.IsValid() {
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: bind.AsSlice(), Zone: bind.Zone()}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: bind.AsSlice(), Zone: bind.Zone()}
		}
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
