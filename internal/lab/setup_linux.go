package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testHookAfterNS, if set, runs after each namespace is created; tests
// use it to make New fail halfway.
var testHookAfterNS func(name string) error

// netnsDir is where `ip netns` keeps its namespace mounts.
const netnsDir = "/var/run/netns"

// Host addresses in the lab subnet (last octet; the IPv6 host part is the
// same digits read as hex, so .11 is ::11).
const (
	gwHost     = 1
	firstNode  = 11
	clientHost = 100
)

// Sysctls for the host namespaces. DAD off so addresses (VIPs included) are
// usable at once and tests never wait for it; addresses survive a link
// down so LinkUp restores the host; ARP answers only for addresses of the
// receiving interface, announces from the best local source address, and
// learns from gratuitous ARP so the gateway and client follow a moving VIP.
var hostSysctls = []struct{ key, val string }{
	{"net/ipv6/conf/all/accept_dad", "0"},
	{"net/ipv6/conf/default/accept_dad", "0"},
	{"net/ipv6/conf/default/dad_transmits", "0"},
	{"net/ipv6/conf/all/keep_addr_on_down", "1"},
	{"net/ipv6/conf/default/keep_addr_on_down", "1"},
	{"net/ipv6/conf/default/accept_ra", "0"},
	{"net/ipv4/conf/all/arp_ignore", "1"},
	{"net/ipv4/conf/default/arp_ignore", "1"},
	{"net/ipv4/conf/all/arp_announce", "2"},
	{"net/ipv4/conf/default/arp_announce", "2"},
	{"net/ipv4/conf/all/arp_accept", "1"},
	{"net/ipv4/conf/default/arp_accept", "1"},
	{"net/ipv4/conf/all/rp_filter", "0"},
	{"net/ipv4/conf/default/rp_filter", "0"},
}

// The switch namespace only bridges: no IPv6 on its links means no
// router solicitations or MLD reports of its own on the LAN.
var switchSysctls = []struct{ key, val string }{
	{"net/ipv6/conf/all/disable_ipv6", "1"},
	{"net/ipv6/conf/default/disable_ipv6", "1"},
}

func (l *Lab) build(ctx context.Context, nodes int, named bool) error {
	l.Switch = nsName(l.Name, roleSwitch)
	var err error
	if l.sw, err = l.addNS(ctx, l.Switch, named); err != nil {
		return err
	}
	if err := doIn(l.sw.ns, func() error { return writeSysctls(switchSysctls) }); err != nil {
		return err
	}
	if err := linkUp(l.sw.nl, "lo"); err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs(), MulticastSnooping: new(false)}
	br.Name = "br0"
	// Snooping off: VRRP adverts go to 224.0.0.18 / ff02::12 and must be
	// flooded to every port whether or not anyone sent a join.
	if err := l.sw.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("add bridge: %w", err)
	}
	if err := l.sw.nl.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge up: %w", err)
	}

	if l.GW, err = l.addHost(ctx, roleGW, gwHost, br, named); err != nil {
		return err
	}
	for i := range nodes {
		h, err := l.addHost(ctx, "n"+strconv.Itoa(i+1), byte(firstNode+i), br, named)
		if err != nil {
			return err
		}
		l.Nodes = append(l.Nodes, h)
	}
	if l.Client, err = l.addHost(ctx, roleClient, clientHost, br, named); err != nil {
		return err
	}
	return nil
}

// addNS creates a named namespace and opens it. A generated name that
// already exists belongs to a dead process that had our pid (our live
// slots are unique), so it is removed first; a fixed name is never stolen.
func (l *Lab) addNS(ctx context.Context, name string, named bool) (nsRef, error) {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		if named {
			return nsRef{}, fmt.Errorf("namespace %s already exists (remove it with `viplab down --prefix %s`)", name, l.Name)
		}
		if err := removeNS(name); err != nil {
			return nsRef{}, fmt.Errorf("remove stale namespace: %w", err)
		}
	}
	l.mu.Lock()
	l.created = append(l.created, name) // before creating: Close copes with absence
	l.mu.Unlock()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nsRef{}, fmt.Errorf("ip netns add %s: %w: %s", name, err, bytesTrim(out))
	}
	if testHookAfterNS != nil {
		if err := testHookAfterNS(name); err != nil {
			return nsRef{}, err
		}
	}
	return openNS(name)
}

func openNS(name string) (nsRef, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nsRef{}, fmt.Errorf("open namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nsRef{}, fmt.Errorf("netlink handle in %s: %w", name, err)
	}
	return nsRef{ns: ns, nl: h}, nil
}

func (l *Lab) addHost(ctx context.Context, name string, hostPart byte, br netlink.Link, named bool) (_ *Host, err error) {
	h := &Host{
		Name:  name,
		NS:    nsName(l.Name, name),
		Iface: "eth0",
		Addr4: l.Addr4(hostPart),
		lab:   l,
	}
	hex6, _ := strconv.ParseUint(strconv.Itoa(int(hostPart)), 16, 16)
	if l.ipv6 {
		h.Addr6 = l.Addr6(uint16(hex6))
	}
	x := l.Net4.Addr().As4()[2]
	h.MAC = net.HardwareAddr{0x02, 0x00, 10, 99, x, hostPart}
	h.LinkLocal = eui64LinkLocal(h.MAC)

	if h.ref, err = l.addNS(ctx, h.NS, named); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // h is not in the lab yet, so Close would miss it
			h.ref.close()
		}
	}()
	// Set before eth0 exists so the defaults apply to it.
	if err := doIn(h.ref.ns, func() error { return writeSysctls(hostSysctls) }); err != nil {
		return nil, err
	}
	if err := linkUp(h.ref.nl, "lo"); err != nil {
		return nil, err
	}
	veth := netlink.NewVeth(netlink.NewLinkAttrs())
	veth.Name = name // the bridge port, named after the host, inside the switch namespace
	veth.MasterIndex = br.Attrs().Index
	veth.PeerName = h.Iface
	veth.PeerHardwareAddr = h.MAC
	veth.PeerNamespace = netlink.NsFd(h.ref.ns)
	if err := l.sw.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("add veth for %s: %w", name, err)
	}
	if err := linkUp(l.sw.nl, name); err != nil {
		return nil, err
	}
	eth, err := h.ref.nl.LinkByName(h.Iface)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.NS, err)
	}
	addrs := []netip.Prefix{netip.PrefixFrom(h.Addr4, l.Net4.Bits())}
	if l.ipv6 {
		addrs = append(addrs, netip.PrefixFrom(h.Addr6, l.Net6.Bits()))
	}
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: prefixNet(p), Flags: unix.IFA_F_NODAD}
		if err := h.ref.nl.AddrAdd(eth, a); err != nil {
			return nil, fmt.Errorf("%s: add %v: %w", h.NS, p, err)
		}
	}
	if err := h.ref.nl.LinkSetUp(eth); err != nil {
		return nil, fmt.Errorf("%s: eth0 up: %w", h.NS, err)
	}
	h.eth, h.index = eth, eth.Attrs().Index
	if name != roleGW {
		if err := h.defaultRoutes(); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// defaultRoutes points the host at the gateway (a link down deletes them).
func (h *Host) defaultRoutes() error {
	gw := h.lab.GW
	if gw == nil || h == gw {
		return nil
	}
	for _, a := range []netip.Addr{gw.Addr4, gw.Addr6} {
		if !a.IsValid() {
			continue
		}
		r := &netlink.Route{LinkIndex: h.index, Gw: net.IP(a.AsSlice())}
		if err := h.ref.nl.RouteReplace(r); err != nil {
			return fmt.Errorf("%s: default route via %v: %w", h.NS, a, err)
		}
	}
	return nil
}

func linkUp(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// eui64LinkLocal is the link-local address the kernel derives from mac
// (addr_gen_mode eui64, the default).
func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

// writeSysctls writes /proc/sys entries; under /proc/sys/net they belong
// to the network namespace of the calling thread, so call it inside doIn.
func writeSysctls(kv []struct{ key, val string }) error {
	for _, s := range kv {
		if err := os.WriteFile("/proc/sys/"+s.key, []byte(s.val), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(s.key, "/", "."), s.val, err)
		}
	}
	return nil
}

// doIn runs f on a locked OS thread switched into ns. If the thread cannot
// be switched back it stays locked, so the runtime discards it rather than
// reuse a thread in the wrong namespace.
func doIn(ns netns.NsHandle, f func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: enter namespace: %w", err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			err = errors.Join(err, fmt.Errorf("lab: restore namespace: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
	}()
	return f()
}

// removeNS kills whatever still runs in a namespace and deletes it. A
// namespace that does not exist is not an error.
func removeNS(name string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		errs = append(errs, fmt.Errorf("ip netns pids %s: %w", name, err))
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			// The process may be exiting already; its namespace is gone either way.
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("ip netns del %s: %w: %s", name, err, bytesTrim(out)))
	}
	return errors.Join(errs...)
}

func bytesTrim(b []byte) string { return strings.TrimSpace(string(b)) }

// Sweep removes namespaces left by crashed runs: those whose names match
// the lab pattern prefix[-id]-role exactly. A generated id encodes its
// creator's pid, and namespaces of a process still alive (or of a lab this
// process still has open) are kept, so Sweep is safe while other test
// binaries run. Fixed names (Options.Name, viplab) are always removed.
// It returns the names it removed.
func Sweep(prefix string) ([]string, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lab: sweep: %w", err)
	}
	re := sweepPattern(prefix)
	var removed []string
	var errs []error
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if m[1] != "" {
			if pid, slot, ok := parseID(m[1]); ok && labAlive(pid, slot) {
				continue
			}
		}
		if err := removeNS(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

func labAlive(pid, slot int) bool {
	if pid == os.Getpid() {
		return slotLive(slot)
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
