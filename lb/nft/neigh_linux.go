package nft

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// resolveTimeout bounds how long Apply waits for the kernel to resolve
// real servers' MAC addresses it does not know yet.
const resolveTimeout = time.Second

// usableNUD are the neighbour states whose link-layer address can be used:
// confirmed (REACHABLE), unconfirmed but not known wrong (STALE, DELAY,
// PROBE, which the kernel is re-checking) or configured (PERMANENT).
const usableNUD = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT

// netlinkNS is where the plane looks up devices and neighbours: the
// namespace conn points into (named by SetNetNS), or ours.
type netlinkNS struct {
	h  *netlink.Handle
	ns netns.NsHandle // netns.None() for ours
}

func (p *Plane) openNetlink() (*netlinkNS, error) {
	if p.netns == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, err
		}
		return &netlinkNS{h: h, ns: netns.None()}, nil
	}
	ns, err := netns.GetFromName(p.netns)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", p.netns, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &netlinkNS{h: h, ns: ns}, nil
}

func (n *netlinkNS) close() {
	n.h.Close()
	if n.ns.IsOpen() {
		n.ns.Close()
	}
}

// resolve looks up the devices of st's DR services, the director's own
// addresses and the real servers' MAC addresses in the neighbour tables.
// Real servers the kernel does not know (no entry, INCOMPLETE, FAILED) get
// a resolution started, as if a packet were sent to them (NTF_USE), and
// are waited for together until timeout; STALE ones are used and nudged
// the same way, so that a changed MAC is learnt by a later Apply. Missing
// devices and MACs are simply absent from the result: buildDR reports
// them.
func (n *netlinkNS) resolve(st State, timeout time.Duration) (drEnv, error) {
	env := drEnv{links: map[string]drLink{}, macs: map[neighKey]net.HardwareAddr{}, local: map[netip.Addr]bool{}}
	addrs, err := n.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return env, fmt.Errorf("addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			env.local[ip.Unmap()] = true
		}
	}
	devs := map[int]string{} // ifindex → name, for neighbour updates
	want := map[neighKey]bool{}
	for _, s := range st.Services {
		if !isDR(&s) {
			continue
		}
		if _, ok := env.links[s.Dev]; !ok {
			l, err := n.h.LinkByName(s.Dev)
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				continue
			}
			if err != nil {
				return env, fmt.Errorf("device %s: %w", s.Dev, err)
			}
			a := l.Attrs()
			if a.EncapType != "ether" || len(a.HardwareAddr) != 6 {
				continue
			}
			env.links[s.Dev] = drLink{index: a.Index, mac: a.HardwareAddr}
			devs[a.Index] = s.Dev
		}
		for _, b := range drTargets(&s) {
			if !env.local[b.Addr] {
				want[neighKey{s.Dev, b.Addr}] = true
			}
		}
	}
	if len(want) == 0 {
		return env, nil
	}

	// Subscribe before reading, so that no update between the read and
	// the wait is missed. The subscription's goroutine sends on ch until
	// done closes its socket; draining ch lets it finish.
	ch := make(chan netlink.NeighUpdate, 64)
	done := make(chan struct{})
	if err := netlink.NeighSubscribeWithOptions(ch, done, netlink.NeighSubscribeOptions{Namespace: &n.ns}); err != nil {
		return env, fmt.Errorf("neighbour updates: %w", err)
	}
	defer func() {
		close(done)
		for range ch {
		}
	}()

	pending := map[neighKey]bool{}
	for dev, l := range env.links {
		ns, err := n.h.NeighList(l.index, netlink.FAMILY_V4)
		if err != nil {
			return env, fmt.Errorf("neighbours of %s: %w", dev, err)
		}
		for _, e := range ns {
			k, ok := neighKeyOf(devs, e)
			if !ok || !want[k] || !usable(e) {
				continue
			}
			env.macs[k] = e.HardwareAddr
			if e.State == netlink.NUD_STALE {
				n.nudge(env.links[k.dev], k.addr)
			}
		}
	}
	for k := range want {
		if _, ok := env.macs[k]; !ok {
			pending[k] = true
			n.nudge(env.links[k.dev], k.addr)
		}
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(pending) > 0 {
		select {
		case u, ok := <-ch:
			if !ok {
				return env, nil // the subscription failed: what is known is all there is
			}
			k, ok := neighKeyOf(devs, u.Neigh)
			if ok && pending[k] && u.Type == unix.RTM_NEWNEIGH && usable(u.Neigh) {
				env.macs[k] = u.HardwareAddr
				delete(pending, k)
			}
		case <-timer.C:
			return env, nil
		}
	}
	return env, nil
}

// nudge starts resolving addr on l, or re-confirming a STALE entry, as a
// packet sent there would. It is best effort: a failure leaves addr
// unresolved, and buildDR reports it.
func (n *netlinkNS) nudge(l drLink, addr netip.Addr) {
	n.h.NeighSet(&netlink.Neigh{LinkIndex: l.index, Family: netlink.FAMILY_V4, IP: addr.AsSlice(), Flags: netlink.NTF_USE})
}

func usable(e netlink.Neigh) bool {
	return e.State&usableNUD != 0 && len(e.HardwareAddr) == 6
}

func neighKeyOf(devs map[int]string, e netlink.Neigh) (neighKey, bool) {
	dev, ok := devs[e.LinkIndex]
	a, ok2 := netip.AddrFromSlice(e.IP)
	return neighKey{dev, a.Unmap()}, ok && ok2
}
