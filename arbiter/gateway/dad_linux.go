package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
)

// ProbeDuplicate sends RFC 5227 ARP probes (sender IP 0.0.0.0, target the
// VIP) on ifname and reports the first host that answers for vip, or that
// announces it (any ARP packet whose sender IP is the VIP, from another
// MAC). found means some host holds the VIP: a zombie holder, so the
// arbiter must not claim and should alarm. Three probes are spread over
// timeout (RFC 5227 PROBE_NUM); only IPv4 VIPs can be probed this way.
// The interface needs an IPv4 address (a limit of the ARP client), though
// the probe does not use it.
func ProbeDuplicate(ctx context.Context, ifname string, vip netip.Addr, timeout time.Duration) (net.HardwareAddr, bool, error) {
	vip = vip.Unmap()
	if !vip.Is4() {
		return nil, false, fmt.Errorf("gateway: duplicate probe needs an IPv4 VIP, got %v", vip)
	}
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: duplicate probe: %w", err)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: arp socket on %s: %w", ifname, err)
	}
	defer c.Close()
	probe, err := arp.NewPacket(arp.OperationRequest, c.HardwareAddr(), netip.IPv4Unspecified(),
		make(net.HardwareAddr, 6), vip)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: build arp probe: %w", err)
	}
	broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	end := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	const probes = 3
	gap := time.Until(end) / probes
	for i := range probes {
		if err := c.WriteTo(probe, broadcast); err != nil {
			return nil, false, fmt.Errorf("gateway: send arp probe on %s: %w", ifname, err)
		}
		stop := end
		if i < probes-1 {
			stop = time.Now().Add(gap)
		}
		mac, found, err := readHolder(ctx, c, vip, stop)
		if found || err != nil {
			return mac, found, err
		}
	}
	return nil, false, nil
}

// readHolder reads ARP packets until stop, looking for one from vip.
func readHolder(ctx context.Context, c *arp.Client, vip netip.Addr, stop time.Time) (net.HardwareAddr, bool, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		// Short read deadlines so ctx cancellation is noticed.
		rd := time.Now().Add(100 * time.Millisecond)
		if stop.Before(rd) {
			rd = stop
		}
		if err := c.SetReadDeadline(rd); err != nil {
			return nil, false, err
		}
		p, _, err := c.Read()
		if err != nil {
			// A read timeout, or a malformed frame on the wire (not our
			// error): keep listening until stop.
			if !time.Now().Before(stop) {
				return nil, false, nil
			}
			continue
		}
		if p.SenderIP == vip && !equalMAC(p.SenderHardwareAddr, c.HardwareAddr()) {
			return p.SenderHardwareAddr, true, nil
		}
	}
}

func equalMAC(a, b net.HardwareAddr) bool { return a.String() == b.String() }
