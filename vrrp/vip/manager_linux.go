package vip

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Manager installs, refreshes and removes VIPs and VMAC interfaces in one
// network namespace. It is safe for concurrent use: netlink requests are
// independent, and mu guards the VMAC bookkeeping.
type Manager struct {
	h  *netlink.Handle
	ns netns.NsHandle // namespace for /proc/sys writes; netns.None() = the caller's

	mu      sync.Mutex
	parents map[string]*parentState // VMAC parent name → saved sysctls, guarded by mu

	// links caches interfaces by name for the refreshes: with 1,000 VIPs
	// refreshed 4× per lifetime, a lookup per refresh doubled the netlink
	// traffic. Entries expire after linkCacheTTL, and a request that finds
	// the cached interface gone looks it up again (it was recreated).
	linkMu sync.Mutex
	links  map[string]cachedLink
	now    func() time.Time
}

type cachedLink struct {
	link netlink.Link
	at   time.Time
}

// linkCacheTTL bounds how long a renamed or recreated interface can be
// served from the cache; ifindexes are not reused that fast.
const linkCacheTTL = time.Second

// link returns the interface called name, from the cache when fresh.
func (m *Manager) link(name string, fresh bool) (netlink.Link, error) {
	m.linkMu.Lock()
	c, ok := m.links[name]
	m.linkMu.Unlock()
	if ok && !fresh && m.now().Sub(c.at) < linkCacheTTL {
		return c.link, nil
	}
	l, err := m.h.LinkByName(name)
	m.linkMu.Lock()
	defer m.linkMu.Unlock()
	if err != nil {
		delete(m.links, name)
		return nil, err
	}
	m.links[name] = cachedLink{link: l, at: m.now()}
	return l, nil
}

// New returns a Manager that works through h. Sysctls (VMAC only) are
// written in the namespace of the calling thread, so h should belong to
// that namespace; use NewAt for another namespace.
func New(h *netlink.Handle) *Manager {
	return &Manager{h: h, ns: netns.None(), parents: map[string]*parentState{}, links: map[string]cachedLink{}, now: time.Now}
}

// NewDefault returns a Manager for the current network namespace.
func NewDefault() (*Manager, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("vip: netlink handle: %w", err)
	}
	return New(h), nil
}

// NewAt returns a Manager for the network namespace ns, which it does not
// take ownership of (the caller keeps ns open while the Manager is used).
func NewAt(ns netns.NsHandle) (*Manager, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("vip: netlink handle in %v: %w", ns, err)
	}
	m := New(h)
	m.ns = ns
	return m, nil
}

// Close releases the netlink handle.
func (m *Manager) Close() {
	m.h.Close()
}

// toNetlink builds the request for a, with lifetime in seconds (0 =
// permanent).
func (m *Manager) toNetlink(a Addr, lifetime uint32) (netlink.Link, *netlink.Addr, error) {
	return m.toNetlinkLink(a, lifetime, true)
}

// toNetlinkLink is toNetlink; fresh false allows a cached interface.
func (m *Manager) toNetlinkLink(a Addr, lifetime uint32, fresh bool) (netlink.Link, *netlink.Addr, error) {
	if !a.Prefix.IsValid() {
		return nil, nil, fmt.Errorf("vip: %v: invalid prefix", a)
	}
	scope, err := ParseScope(a.Scope)
	if err != nil {
		return nil, nil, fmt.Errorf("vip: %v: %w", a, err)
	}
	if len(a.Label) > unix.IFNAMSIZ-1 {
		return nil, nil, fmt.Errorf("vip: %v: label %q longer than %d bytes", a, a.Label, unix.IFNAMSIZ-1)
	}
	link, err := m.link(a.Dev, fresh)
	if err != nil {
		return nil, nil, fmt.Errorf("vip: %v: %w", a, err)
	}
	p := a.Prefix.Masked()
	na := &netlink.Addr{
		IPNet: &net.IPNet{IP: a.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())},
		Label: a.Label,
		Scope: int(scope),
	}
	if a.Brd.IsValid() {
		na.Broadcast = a.Brd.AsSlice()
	}
	if a.NoPrefixRoute {
		na.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if a.Prefix.Addr().Is6() {
		// A VIP must answer at once after a failover, and the peer that
		// held it a moment ago would make DAD fail; keepalived sets
		// IFA_F_NODAD on IPv6 VIPs for the same reason.
		na.Flags |= unix.IFA_F_NODAD
		na.Label = "" // labels are IPv4-only
	}
	if lifetime > 0 {
		// preferred = valid: an IPv6 address past its preferred lifetime
		// is deprecated and no longer chosen as a source address.
		na.ValidLft = int(lifetime)
		na.PreferedLft = int(lifetime)
	}
	return link, na, nil
}

// Apply adds every address, or refreshes it if present (RTM_NEWADDR with
// NLM_F_REPLACE), with a lifetime of LifetimeSeconds(lifetime) seconds; 0
// means permanent. Each call restarts the kernel's countdown, so a fence is
// kept alive by calling Apply again before the lifetime runs out. Apply
// tries every address and joins the errors, so one bad entry does not stop
// the others from being refreshed.
//
// The kernel updates the lifetime, flags and scope of an existing address
// but not its label; to change a label, Remove then Apply.
//
// IPv4 note: when a primary address is removed (by Remove or by expiry),
// the kernel removes its secondaries too unless promote_secondaries=1 on
// the interface. VIPs normally are secondaries of the host's own address;
// a VIP that is the only address of its subnet on the interface is a
// primary, and its expiry takes other VIPs of that subnet with it.
func (m *Manager) Apply(addrs []Addr, lifetime time.Duration) error {
	lft := LifetimeSeconds(lifetime)
	var errs []error
	for _, a := range addrs {
		link, na, err := m.toNetlinkLink(a, lft, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = m.h.AddrReplace(link, na)
		if errors.Is(err, unix.ENODEV) {
			// The cached interface is gone: it was recreated, look again.
			if link, na, err = m.toNetlinkLink(a, lft, true); err == nil {
				err = m.h.AddrReplace(link, na)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: apply %v: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// Remove deletes every address. An address (or interface) that is already
// gone is not an error: removal is idempotent.
func (m *Manager) Remove(addrs []Addr) error {
	var errs []error
	for _, a := range addrs {
		link, na, err := m.toNetlink(a, 0)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		if err := m.h.AddrDel(link, na); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("vip: remove %v: %w", a, err))
		}
	}
	return errors.Join(errs...)
}

// Present reports whether a's address with a's prefix length is on a.Dev.
// A missing interface means not present.
func (m *Manager) Present(a Addr) (bool, error) {
	link, err := m.h.LinkByName(a.Dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return false, nil
		}
		return false, fmt.Errorf("vip: present %v: %w", a, err)
	}
	family := netlink.FAMILY_V4
	if a.Prefix.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	list, err := m.h.AddrList(link, family)
	if err != nil {
		return false, fmt.Errorf("vip: present %v: %w", a, err)
	}
	want := a.Prefix.Addr().Unmap()
	for _, got := range list {
		ip, ok := netipFromIP(got.IP)
		if !ok || ip != want {
			continue
		}
		if ones, _ := got.Mask.Size(); ones == a.Prefix.Bits() {
			return true, nil
		}
	}
	return false, nil
}
