package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/vishvananda/netlink"
)

// Attach opens a lab that another process built and left running (viplab
// up), by its base name: the part before "-n1". Its Close releases handles
// and kills processes started through it but keeps the namespaces (use
// Sweep to remove them). Its fault state starts empty: a Cut through it
// replaces the rules another process put on the same hosts.
func Attach(name string) (_ *Lab, err error) {
	l := &Lab{Name: name, Switch: nsName(name, roleSwitch), slot: -1, attached: true, faults: map[*Host]faults{}}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.sw, err = openNS(l.Switch); err != nil {
		return nil, fmt.Errorf("lab: attach %s: %w", name, err)
	}
	if l.GW, err = l.attachHost(roleGW); err != nil {
		return nil, err
	}
	for i := 1; ; i++ {
		role := "n" + strconv.Itoa(i)
		if _, err := os.Stat(filepath.Join(netnsDir, nsName(name, role))); errors.Is(err, os.ErrNotExist) {
			break
		}
		h, err := l.attachHost(role)
		if err != nil {
			return nil, err
		}
		l.Nodes = append(l.Nodes, h)
	}
	if l.Client, err = l.attachHost(roleClient); err != nil {
		return nil, err
	}
	if !l.GW.Addr4.IsValid() {
		return nil, fmt.Errorf("lab: attach %s: gateway has no /24 address on eth0", name)
	}
	l.Net4 = netip.PrefixFrom(l.GW.Addr4, 24).Masked()
	if l.GW.Addr6.IsValid() {
		l.ipv6 = true
		l.Net6 = netip.PrefixFrom(l.GW.Addr6, 64).Masked()
	}
	return l, nil
}

func (l *Lab) attachHost(role string) (*Host, error) {
	h := &Host{Name: role, NS: nsName(l.Name, role), Iface: "eth0", lab: l}
	var err error
	if h.ref, err = openNS(h.NS); err != nil {
		return nil, fmt.Errorf("lab: attach: %w", err)
	}
	if h.eth, err = h.ref.nl.LinkByName(h.Iface); err != nil {
		h.ref.close()
		return nil, fmt.Errorf("lab: attach %s: %w", h.NS, err)
	}
	h.index, h.MAC = h.eth.Attrs().Index, h.eth.Attrs().HardwareAddr
	addrs, err := h.ref.nl.AddrList(h.eth, netlink.FAMILY_ALL)
	if err != nil {
		h.ref.close()
		return nil, fmt.Errorf("lab: attach %s: addresses: %w", h.NS, err)
	}
	// The lab's own addresses are the /24 and /64; VIPs are /32 and /128.
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		bits, _ := a.Mask.Size()
		switch {
		case ip.Is4() && bits == 24:
			h.Addr4 = ip
		case ip.Is6() && ip.IsLinkLocalUnicast():
			h.LinkLocal = ip
		case ip.Is6() && bits == 64:
			h.Addr6 = ip
		}
	}
	return h, nil
}

// Describe is a table of the lab's hosts, namespaces and addresses.
func (l *Lab) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s: switch namespace %s (bridge br0), LAN %v", l.Name, l.Switch, l.Net4)
	if l.Net6.IsValid() {
		fmt.Fprintf(&b, " and %v", l.Net6)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "host\tnamespace\tIPv4\tIPv6\tMAC")
	for _, h := range l.Hosts() {
		v6 := "-"
		if h.Addr6.IsValid() {
			v6 = h.Addr6.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%v\n", h.Name, h.NS, h.Addr4, v6, h.MAC)
	}
	tw.Flush()
	return b.String()
}
