package track

import (
	"context"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/internal/clock"
)

// Interfaces watches the link state of named interfaces (track_interface).
// An interface counts as up when it is administratively up and running
// (IFF_UP and IFF_RUNNING, keepalived's IF_FLAGS_UP); a missing interface
// is down.
type Interfaces struct {
	names []string
	ns    *netns.NsHandle // nil: the daemon's namespace
	clock clock.Clock
}

// NewInterfaces watches names in the current network namespace.
func NewInterfaces(clk clock.Clock, names ...string) *Interfaces {
	return &Interfaces{names: names, clock: clk}
}

// NewInterfacesAt watches names in the network namespace ns, which the
// caller keeps open while Run runs.
func NewInterfacesAt(ns netns.NsHandle, clk clock.Clock, names ...string) *Interfaces {
	return &Interfaces{names: names, ns: &ns, clock: clk}
}

// resubscribeDelay spaces out re-subscriptions after the netlink socket
// fails (e.g. ENOBUFS when the kernel overran it).
const resubscribeDelay = time.Second

// Run reads the state of every interface, sends one Status per interface,
// then sends a Status whenever an interface goes up or down, until ctx is
// done (then it returns nil). If the subscription breaks, it subscribes
// again and re-reads every state, so no transition is lost for good.
func (t *Interfaces) Run(ctx context.Context, updates chan<- Status) error {
	last := make(map[string]Status, len(t.names))
	report := func(name string, up bool, detail string) bool {
		prev, seen := last[name]
		if seen && prev.OK == up {
			return true
		}
		st := Status{Name: name, Kind: KindInterface, Known: true, OK: up, Detail: detail, Since: t.clock.Now()}
		last[name] = st
		return send(ctx, updates, st)
	}
	for {
		err := t.watch(ctx, report)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && len(last) == 0 {
			// Never worked: most likely no permission or a bad namespace.
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.clock.After(resubscribeDelay):
		}
	}
}

// watch runs one netlink subscription until it breaks or ctx ends.
func (t *Interfaces) watch(ctx context.Context, report func(name string, up bool, detail string) bool) error {
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer func() {
		close(done)
		// The subscription goroutine may be blocked sending to ch; drain
		// it until it closes ch so it can exit.
		go func() {
			for range ch {
			}
		}()
	}()
	// Subscribe before reading the current state so that no change falls
	// between the two; queued older events are superseded by later ones.
	if err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{Namespace: t.ns}); err != nil {
		return fmt.Errorf("subscribe to link updates: %w", err)
	}

	h, err := t.handle()
	if err != nil {
		return err
	}
	byIndex := make(map[int]string) // tracked interface names by ifindex
	for _, name := range t.names {
		l, err := h.LinkByName(name)
		if err != nil {
			if !report(name, false, "missing") {
				h.Close()
				return nil
			}
			continue
		}
		byIndex[l.Attrs().Index] = name
		up, detail := linkUp(l.Attrs().RawFlags, l.Attrs().OperState)
		if !report(name, up, detail) {
			h.Close()
			return nil
		}
	}
	h.Close()

	tracked := make(map[string]bool, len(t.names))
	for _, n := range t.names {
		tracked[n] = true
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-ch:
			if !ok {
				return fmt.Errorf("link subscription closed")
			}
			a := u.Link.Attrs()
			// A tracked interface renamed away is gone under its name.
			if old, ok := byIndex[a.Index]; ok && old != a.Name {
				delete(byIndex, a.Index)
				if !report(old, false, "missing (renamed to "+a.Name+")") {
					return nil
				}
			}
			if !tracked[a.Name] {
				continue
			}
			if u.Header.Type == unix.RTM_DELLINK {
				delete(byIndex, a.Index)
				if !report(a.Name, false, "missing") {
					return nil
				}
				continue
			}
			byIndex[a.Index] = a.Name
			up, detail := linkUp(u.IfInfomsg.Flags, a.OperState)
			if !report(a.Name, up, detail) {
				return nil
			}
		}
	}
}

func (t *Interfaces) handle() (*netlink.Handle, error) {
	if t.ns == nil {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink handle: %w", err)
		}
		return h, nil
	}
	h, err := netlink.NewHandleAt(*t.ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in namespace: %w", err)
	}
	return h, nil
}

func linkUp(flags uint32, oper netlink.LinkOperState) (bool, string) {
	const want = unix.IFF_UP | unix.IFF_RUNNING
	if flags&want == want {
		return true, "up"
	}
	if flags&unix.IFF_UP == 0 {
		return false, "down (admin)"
	}
	return false, "down (oper " + oper.String() + ")"
}
