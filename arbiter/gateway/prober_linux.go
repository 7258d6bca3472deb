package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// NetProber is the real Prober: ARP requests and/or ICMP echo over raw
// sockets (root or CAP_NET_RAW). Every probe opens its own socket, so
// concurrent probes never read each other's replies.
type NetProber struct {
	Method    string // arp, icmp or both
	Interface string // empty: the route to the target decides
}

var _ Prober = (*NetProber)(nil)

// Probe implements Prober. IPv6 targets always use ICMPv6 echo (ARP is
// IPv4-only).
func (p *NetProber) Probe(ctx context.Context, target netip.Addr) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Second)
	}
	method := p.Method
	if target.Is6() && !target.Is4In6() {
		method = MethodICMP
	}
	switch method {
	case MethodICMP:
		return p.echo(target, deadline)
	case MethodBoth:
		if err := p.arp(target, deadline); err != nil {
			return err
		}
		return p.echo(target, deadline)
	default:
		return p.arp(target, deadline)
	}
}

func (p *NetProber) iface(target netip.Addr) (*net.Interface, error) {
	if p.Interface != "" {
		ifi, err := net.InterfaceByName(p.Interface)
		if err != nil {
			return nil, fmt.Errorf("gateway: interface %s: %w", p.Interface, err)
		}
		return ifi, nil
	}
	routes, err := netlink.RouteGet(target.AsSlice())
	if err != nil || len(routes) == 0 {
		return nil, fmt.Errorf("gateway: no route to %v: %w", target, err)
	}
	ifi, err := net.InterfaceByIndex(routes[0].LinkIndex)
	if err != nil {
		return nil, fmt.Errorf("gateway: interface of route to %v: %w", target, err)
	}
	return ifi, nil
}

// arp sends one ARP request and waits for the target's reply.
func (p *NetProber) arp(target netip.Addr, deadline time.Time) error {
	ifi, err := p.iface(target)
	if err != nil {
		return err
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return fmt.Errorf("gateway: arp socket on %s: %w", ifi.Name, err)
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("gateway: arp deadline: %w", err)
	}
	if _, err := c.Resolve(target.Unmap()); err != nil {
		return fmt.Errorf("arp %v on %s: %w", target, ifi.Name, err)
	}
	return nil
}

// echo sends one ICMP echo request and waits for the matching reply.
func (p *NetProber) echo(target netip.Addr, deadline time.Time) error {
	target = target.Unmap()
	network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
	var typ, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if target.Is6() {
		network, laddr, proto = "ip6:ipv6-icmp", "::", 58
		typ, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		if p.Interface == "" {
			return nil
		}
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, p.Interface)
		})
		return errors.Join(err, serr)
	}}
	conn, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return fmt.Errorf("gateway: icmp socket: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("gateway: icmp deadline: %w", err)
	}
	// Raw ICMP sockets see every echo reply on the host: match id and seq.
	id, seq := os.Getpid()&0xffff, int(rand.Uint32()&0xffff)
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("vipd-gateway")}}
	b, err := msg.Marshal(nil) // the kernel fills the ICMPv6 checksum
	if err != nil {
		return fmt.Errorf("gateway: icmp marshal: %w", err)
	}
	dst := &net.IPAddr{IP: target.AsSlice()}
	if _, err := conn.WriteTo(b, dst); err != nil {
		return fmt.Errorf("icmp echo to %v: %w", target, err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("icmp echo to %v: %w", target, err)
		}
		src, ok := from.(*net.IPAddr)
		if !ok || !src.IP.Equal(dst.IP) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return nil
		}
	}
}
