package vrrpconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// maxPacket bounds a received datagram: a VRRP packet carries at most 255
// addresses (4088 bytes for IPv6), so a jumbo-frame MTU is plenty.
const maxPacket = 9216

// Conn is a raw VRRP socket bound to one interface. ReadFrom must be
// called from one goroutine at a time; WriteTo and WriteToFrom are safe for
// concurrent use.
type Conn struct {
	family     int
	ifi        *net.Interface
	src        netip.Addr
	group      netip.Addr
	unicastTTL int

	pc net.PacketConn   // the socket; owns deadlines and Close
	v4 *ipv4.RawConn    // family 4: we write the IPv4 header ourselves
	v6 *ipv6.PacketConn // family 6: the kernel writes the header, we pass pktinfo

	rmu  sync.Mutex // guards rbuf, so ReadFrom is safe even if misused concurrently
	rbuf []byte
}

// Dial opens the socket described by cfg: bound to the interface
// (SO_BINDTODEVICE), multicast loopback off, multicast TTL/hop limit 255,
// the group joined on the interface unless cfg.Unicast.
func Dial(cfg Config) (*Conn, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrpconn: interface %q: %w", cfg.Interface, err)
	}
	c := &Conn{family: cfg.Family, ifi: ifi, group: cfg.Group, unicastTTL: cfg.UnicastTTL, rbuf: make([]byte, maxPacket)}
	if c.unicastTTL == 0 {
		c.unicastTTL = TTL
	}
	if c.unicastTTL < 1 || c.unicastTTL > 255 {
		return nil, fmt.Errorf("vrrpconn: unicast TTL %d out of range 1-255", cfg.UnicastTTL)
	}
	switch cfg.Family {
	case 4:
		if !c.group.IsValid() {
			c.group = GroupV4
		}
	case 6:
		if !c.group.IsValid() {
			c.group = GroupV6
		}
	default:
		return nil, fmt.Errorf("vrrpconn: family %d: want 4 or 6", cfg.Family)
	}
	if !c.group.IsMulticast() || c.group.Is4() != (cfg.Family == 4) {
		return nil, fmt.Errorf("vrrpconn: group %v is not an IPv%d multicast address", c.group, cfg.Family)
	}
	c.src = cfg.SrcAddr.Unmap().WithZone("")
	if c.src.IsValid() && c.src.Is4() != (cfg.Family == 4) {
		return nil, fmt.Errorf("vrrpconn: source %v is not an IPv%d address", cfg.SrcAddr, cfg.Family)
	}
	if !c.src.IsValid() {
		srcIf := ifi
		if cfg.SourceInterface != "" && cfg.SourceInterface != cfg.Interface {
			if srcIf, err = net.InterfaceByName(cfg.SourceInterface); err != nil {
				return nil, fmt.Errorf("vrrpconn: source interface %q: %w", cfg.SourceInterface, err)
			}
		}
		if c.src, err = defaultSource(srcIf, cfg.Family); err != nil {
			return nil, err
		}
	}

	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_BINDTODEVICE %s: %w", ifi.Name, serr)
		}
		return nil
	}}
	network, laddr := "ip4:112", "0.0.0.0"
	if cfg.Family == 6 {
		network, laddr = "ip6:112", "::"
	}
	c.pc, err = lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("vrrpconn: listen %s on %s: %w", network, ifi.Name, err)
	}
	if cfg.Family == 4 {
		err = c.setup4(cfg.Unicast)
	} else {
		err = c.setup6(cfg.Unicast)
	}
	if err != nil {
		c.pc.Close()
		return nil, fmt.Errorf("vrrpconn: %s: %w", ifi.Name, err)
	}
	return c, nil
}

func (c *Conn) setup4(unicast bool) error {
	r, err := ipv4.NewRawConn(c.pc)
	if err != nil {
		return fmt.Errorf("raw conn: %w", err)
	}
	c.v4 = r
	// The header we write carries the TTL; the socket options are set too
	// so that nothing else the kernel sends on our behalf differs.
	steps := []struct {
		what string
		err  error
	}{
		{"multicast interface", r.SetMulticastInterface(c.ifi)},
		{"multicast TTL", r.SetMulticastTTL(TTL)},
		{"unicast TTL", r.SetTTL(c.unicastTTL)},
		{"multicast loopback off", r.SetMulticastLoopback(false)},
		{"control messages", r.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true)},
	}
	if !unicast {
		steps = append(steps, struct {
			what string
			err  error
		}{"join " + c.group.String(), r.JoinGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()})})
	}
	for _, s := range steps {
		if s.err != nil {
			return fmt.Errorf("%s: %w", s.what, s.err)
		}
	}
	return nil
}

func (c *Conn) setup6(unicast bool) error {
	p := ipv6.NewPacketConn(c.pc)
	c.v6 = p
	steps := []struct {
		what string
		fn   func() error
	}{
		// RFC 5798's checksum covers a pseudo-header; the codec computes
		// it. Off is the kernel default for protocols other than ICMPv6,
		// set explicitly so that nothing inherited can turn it on.
		{"checksum off", func() error { return p.SetChecksum(false, 0) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(c.ifi) }},
		{"multicast hop limit", func() error { return p.SetMulticastHopLimit(TTL) }},
		{"unicast hop limit", func() error { return p.SetHopLimit(c.unicastTTL) }},
		{"multicast loopback off", func() error { return p.SetMulticastLoopback(false) }},
		// IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO: hop limit, destination
		// and arrival interface of each packet.
		{"control messages", func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
	}
	if !unicast {
		steps = append(steps, struct {
			what string
			fn   func() error
		}{"join " + c.group.String(), func() error { return p.JoinGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()}) }})
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	if offset, err := c.checksumOffset(); err != nil || offset != -1 {
		return fmt.Errorf("IPV6_CHECKSUM still on (offset %d, err %v)", offset, err)
	}
	return nil
}

// checksumOffset reads IPV6_CHECKSUM (-1 = off). ipv6.PacketConn.Checksum
// cannot be used for this: it reads the option as an unsigned 32-bit value
// and so reports -1 as "on at offset 4294967295".
func (c *Conn) checksumOffset() (int, error) {
	sc, ok := c.pc.(syscall.Conn)
	if !ok {
		return 0, errors.New("not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		offset int
		gerr   error
	)
	if err := rc.Control(func(fd uintptr) {
		offset, gerr = unix.GetsockoptInt(int(fd), unix.SOL_RAW, unix.IPV6_CHECKSUM)
	}); err != nil {
		return 0, err
	}
	return int(int32(offset)), gerr
}

// defaultSource returns the interface's first IPv4 address (the kernel
// lists the primary first) or its IPv6 link-local address.
func defaultSource(ifi *net.Interface, family int) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrpconn: addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if family == 4 && ip.Is4() || family == 6 && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %s (IPv%d)", ErrNoSourceAddress, ifi.Name, family)
}

// LocalAddr is the source address of packets sent by WriteTo, needed for
// the VRRPv3 checksum pseudo-header.
func (c *Conn) LocalAddr() netip.Addr { return c.src }

// Interface is the interface the Conn is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// ReadFrom reads one VRRP packet into b and returns the VRRP payload length
// (the IPv4 header is stripped) and where it came from. If b is too small
// the payload is truncated to len(b) and ErrTruncated is returned with it.
func (c *Conn) ReadFrom(b []byte) (int, Meta, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	var (
		payload []byte
		m       Meta
	)
	if c.v4 != nil {
		h, p, cm, err := c.v4.ReadFrom(c.rbuf)
		if err != nil {
			return 0, Meta{}, err
		}
		payload = p
		m.Src, _ = netip.AddrFromSlice(h.Src.To4())
		m.Dst, _ = netip.AddrFromSlice(h.Dst.To4())
		m.TTL = h.TTL
		if cm != nil {
			m.IfIndex = cm.IfIndex
		}
	} else {
		n, cm, src, err := c.v6.ReadFrom(c.rbuf)
		if err != nil {
			return 0, Meta{}, err
		}
		payload = c.rbuf[:n]
		if ipa, ok := src.(*net.IPAddr); ok {
			m.Src, _ = netip.AddrFromSlice(ipa.IP)
		}
		if cm != nil {
			m.Dst, _ = netip.AddrFromSlice(cm.Dst)
			m.TTL = cm.HopLimit
			m.IfIndex = cm.IfIndex
		}
	}
	n := copy(b, payload)
	if n < len(payload) {
		return n, m, fmt.Errorf("%w: %d byte packet, %d byte buffer", ErrTruncated, len(payload), len(b))
	}
	return n, m, nil
}

// ErrTruncated reports a packet larger than the ReadFrom buffer.
var ErrTruncated = errors.New("vrrpconn: packet truncated")

// WriteTo sends the VRRP payload b from LocalAddr to dst, which is the
// multicast group or a unicast peer. Multicast goes out with TTL 255,
// unicast with the configured unicast TTL (255 by default).
func (c *Conn) WriteTo(b []byte, dst netip.Addr) error {
	return c.WriteToFrom(b, c.src, dst)
}

// WriteToFrom is WriteTo with an explicit source address, for instances
// that share this Conn but have their own unicast_src_ip. src must be an
// address of this host (the kernel refuses others).
func (c *Conn) WriteToFrom(b []byte, src, dst netip.Addr) error {
	src, dst = src.Unmap().WithZone(""), dst.Unmap()
	if !src.IsValid() || src.Is4() != (c.family == 4) || !dst.IsValid() || dst.Is4() != (c.family == 4) {
		return fmt.Errorf("vrrpconn: write %v→%v on an IPv%d conn: wrong address family", src, dst, c.family)
	}
	ttl := c.unicastTTL
	if dst.IsMulticast() {
		ttl = TTL
	}
	if c.v4 != nil {
		h := &ipv4.Header{
			Version:  ipv4.Version,
			Len:      ipv4.HeaderLen,
			TOS:      0xc0, // IPTOS_PREC_INTERNETCONTROL, as keepalived sends
			TotalLen: ipv4.HeaderLen + len(b),
			TTL:      ttl,
			Protocol: Protocol,
			Src:      src.AsSlice(),
			Dst:      dst.AsSlice(),
		}
		if err := c.v4.WriteTo(h, b, nil); err != nil {
			return fmt.Errorf("vrrpconn: write to %v: %w", dst, err)
		}
		return nil
	}
	cm := &ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: c.ifi.Index, HopLimit: ttl, TrafficClass: 0xc0}
	to := &net.IPAddr{IP: dst.WithZone("").AsSlice()}
	if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
		to.Zone = c.ifi.Name
	}
	if _, err := c.v6.WriteTo(b, cm, to); err != nil {
		return fmt.Errorf("vrrpconn: write to %v: %w", dst, err)
	}
	return nil
}

// SetReadDeadline sets the deadline for ReadFrom; the zero time means none.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.pc.SetReadDeadline(t) }

// Close closes the socket, which also leaves the multicast group.
func (c *Conn) Close() error { return c.pc.Close() }
