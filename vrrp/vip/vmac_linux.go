package vip

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Sysctls keepalived sets (vrrp_if_config.c) so that ARP for the VIPs is
// answered only by the VMAC and traffic to a VMAC without an address is
// accepted.
var (
	vmacSysctls = []sysctl{
		{"arp_ignore", "1"},          // reply only for addresses on the VMAC itself
		{"accept_local", "1"},        // hear other instances' adverts with our source
		{"rp_filter", "0"},           // receive on a VMAC that has no address
		{"promote_secondaries", "1"}, // an expiring primary VIP must not take the rest
	}
	parentSysctls = []sysctl{
		{"arp_ignore", "1"}, // the parent must not answer ARP for the VIPs
		{"arp_filter", "1"},
	}
)

type sysctl struct{ key, value string }

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE from linux/if_link.h.
const in6AddrGenModeNone = 1

// parentState remembers a VMAC parent's sysctls before the first VMAC, to
// restore them when the last VMAC made through this Manager goes away.
type parentState struct {
	vmacs map[string]bool // VMAC names on this parent
	saved []sysctl
}

// CreateVMAC creates (or adopts, if an identical one exists) the macvlan
// interface name on parent in private mode with the VRRP virtual MAC for
// vrid and family, sets keepalived's sysctls on it and on parent, and
// brings it up. An empty name means DefaultVMACName. For IPv6 the kernel is
// told not to generate a link-local address from the shared VMAC (every
// router of the VRID would generate the same one and fail DAD); the caller
// adds the link-local address the instance should use.
func (m *Manager) CreateVMAC(parent string, vrid uint8, family int, name string) (string, error) {
	mac, err := VMACAddr(vrid, family)
	if err != nil {
		return "", err
	}
	if name == "" {
		name = DefaultVMACName(vrid, family)
	}
	if len(name) > unix.IFNAMSIZ-1 {
		return "", fmt.Errorf("vip: vmac name %q longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	plink, err := m.h.LinkByName(parent)
	if err != nil {
		return "", fmt.Errorf("vip: vmac parent %s: %w", parent, err)
	}
	link, err := m.h.LinkByName(name)
	switch {
	case err == nil:
		// Adopt an existing VMAC (left by a previous run or made before a
		// reload) rather than flap it, as long as it is the one we would
		// create.
		mv, ok := link.(*netlink.Macvlan)
		if !ok || mv.ParentIndex != plink.Attrs().Index || !bytes.Equal(mv.HardwareAddr, mac) {
			return "", fmt.Errorf("vip: vmac %s exists but is not a macvlan on %s with MAC %s", name, parent, mac)
		}
	case errors.As(err, new(netlink.LinkNotFoundError)):
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{
				Name:         name,
				ParentIndex:  plink.Attrs().Index,
				HardwareAddr: mac,
				// Copy the group so firewall rules on the parent's group keep
				// matching (keepalived does the same).
				Group: plink.Attrs().Group,
			},
			Mode: netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := m.h.LinkAdd(mv); err != nil {
			return "", fmt.Errorf("vip: create vmac %s on %s: %w", name, parent, err)
		}
		if link, err = m.h.LinkByName(name); err != nil {
			return "", fmt.Errorf("vip: vmac %s: %w", name, err)
		}
	default:
		return "", fmt.Errorf("vip: vmac %s: %w", name, err)
	}
	if family == 6 {
		if err := m.h.LinkSetIP6AddrGenMode(link, in6AddrGenModeNone); err != nil {
			return "", fmt.Errorf("vip: vmac %s addrgenmode none: %w", name, err)
		}
	}
	// Sysctls before the link goes up, so it never answers ARP wrongly.
	if err := m.writeSysctls("net/ipv4/conf/"+name, vmacSysctls); err != nil {
		return "", fmt.Errorf("vip: vmac %s: %w", name, err)
	}
	if err := m.holdParent(parent, name); err != nil {
		return "", err
	}
	if err := m.h.LinkSetUp(link); err != nil {
		return "", fmt.Errorf("vip: vmac %s up: %w", name, err)
	}
	return name, nil
}

// DeleteVMAC removes the VMAC interface name; an absent interface is not
// an error. When it was the last VMAC this Manager made on its parent, the
// parent's arp_ignore/arp_filter are restored.
func (m *Manager) DeleteVMAC(name string) error {
	link, err := m.h.LinkByName(name)
	if err == nil {
		if err := m.h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("vip: delete vmac %s: %w", name, err)
		}
	} else if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return fmt.Errorf("vip: delete vmac %s: %w", name, err)
	}
	return m.releaseParent(name)
}

func (m *Manager) holdParent(parent, vmac string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.parents[parent]
	if ps == nil {
		saved, err := m.readSysctls("net/ipv4/conf/"+parent, parentSysctls)
		if err != nil {
			return fmt.Errorf("vip: vmac parent %s: %w", parent, err)
		}
		if err := m.writeSysctls("net/ipv4/conf/"+parent, parentSysctls); err != nil {
			return fmt.Errorf("vip: vmac parent %s: %w", parent, err)
		}
		ps = &parentState{vmacs: map[string]bool{}, saved: saved}
		m.parents[parent] = ps
	}
	ps.vmacs[vmac] = true
	return nil
}

func (m *Manager) releaseParent(vmac string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for parent, ps := range m.parents {
		if !ps.vmacs[vmac] {
			continue
		}
		delete(ps.vmacs, vmac)
		if len(ps.vmacs) > 0 {
			return nil
		}
		delete(m.parents, parent)
		if _, err := m.h.LinkByName(parent); err != nil {
			return nil // the parent went away; nothing to restore
		}
		if err := m.writeSysctls("net/ipv4/conf/"+parent, ps.saved); err != nil {
			return fmt.Errorf("vip: restore parent %s: %w", parent, err)
		}
		return nil
	}
	return nil
}

// inNS runs fn on a thread in m's namespace. The thread is locked and
// never unlocked, so the runtime discards it when the goroutine ends and no
// other goroutine ever runs in the wrong namespace.
func (m *Manager) inNS(fn func() error) error {
	if !m.ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(m.ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func (m *Manager) writeSysctls(dir string, kv []sysctl) error {
	return m.inNS(func() error {
		for _, s := range kv {
			p := filepath.Join("/proc/sys", dir, s.key)
			if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=%s: %w", p, s.value, err)
			}
		}
		return nil
	})
}

func (m *Manager) readSysctls(dir string, kv []sysctl) ([]sysctl, error) {
	out := make([]sysctl, 0, len(kv))
	err := m.inNS(func() error {
		for _, s := range kv {
			p := filepath.Join("/proc/sys", dir, s.key)
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("sysctl %s: %w", p, err)
			}
			out = append(out, sysctl{s.key, strings.TrimSpace(string(b))})
		}
		return nil
	})
	return out, err
}
