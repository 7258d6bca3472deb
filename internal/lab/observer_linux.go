package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultEvery is the Observer's sampling interval when none is given.
const DefaultEvery = 5 * time.Millisecond

// ErrObserverStopped is returned by the Wait methods once the observer has
// stopped (or before it started) without the condition becoming true.
var ErrObserverStopped = errors.New("lab: observer not running")

// Observer samples which nodes hold each VIP, by listing every address in
// each node namespace over netlink, and keeps a timeline per VIP. An
// address counts as held unless it is tentative or failed DAD.
type Observer struct {
	lab    *Lab
	vips   []netip.Addr
	every  time.Duration
	family int

	stop chan struct{} // closed by Stop
	done chan struct{} // closed by the sampling goroutine when it exits

	mu      sync.Mutex // guards the fields below
	rec     *recorder
	changed chan struct{} // closed (and replaced) after every sample
	state   int           // obsNew, obsRunning, obsStopped
	err     error         // first sampling error
	final   Report
}

const (
	obsNew = iota
	obsRunning
	obsStopped
)

// NewObserver prepares an observer of vips on l's nodes, sampling every
// interval (DefaultEvery if zero). Call Start.
func NewObserver(l *Lab, vips []netip.Addr, every time.Duration) *Observer {
	if every <= 0 {
		every = DefaultEvery
	}
	fam := netlink.FAMILY_ALL
	switch {
	case !slices.ContainsFunc(vips, netip.Addr.Is6):
		fam = netlink.FAMILY_V4
	case !slices.ContainsFunc(vips, netip.Addr.Is4):
		fam = netlink.FAMILY_V6
	}
	return &Observer{
		lab:     l,
		vips:    slices.Clone(vips),
		every:   every,
		family:  fam,
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		rec:     newRecorder(vips, every),
		changed: make(chan struct{}),
	}
}

// Start opens one netlink handle per node (once; sampling reuses them),
// takes a first sample and keeps sampling until Stop or Lab.Close.
func (o *Observer) Start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state != obsNew {
		return errors.New("lab: observer already started")
	}
	var hs []*netlink.Handle
	for _, n := range o.lab.Nodes {
		h, err := netlink.NewHandleAt(n.ref.ns, unix.NETLINK_ROUTE)
		if err != nil {
			for _, h := range hs {
				h.Close()
			}
			return fmt.Errorf("lab: observer handle in %s: %w", n.NS, err)
		}
		hs = append(hs, h)
	}
	o.lab.mu.Lock()
	if o.lab.closed {
		o.lab.mu.Unlock()
		for _, h := range hs {
			h.Close()
		}
		return errors.New("lab: observer on a closed lab")
	}
	o.lab.observers = append(o.lab.observers, o)
	o.lab.mu.Unlock()

	o.state = obsRunning
	o.sampleLocked(hs)
	go o.run(hs)
	return nil
}

// run is the sampling goroutine; it owns the handles.
func (o *Observer) run(hs []*netlink.Handle) {
	defer close(o.done)
	defer func() {
		for _, h := range hs {
			h.Close()
		}
	}()
	t := time.NewTicker(o.every)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			o.mu.Lock()
			o.sampleLocked(hs) // the last span ends when Stop was called
			o.mu.Unlock()
			return
		case <-t.C:
			o.mu.Lock()
			o.sampleLocked(hs)
			o.mu.Unlock()
		}
	}
}

// sampleLocked reads every node's addresses and records one sample. A node
// whose dump fails makes the whole sample unknown: it is skipped (and the
// error kept) rather than recorded as "not holding".
func (o *Observer) sampleLocked(hs []*netlink.Handle) {
	holders := make(map[netip.Addr][]string, len(o.vips))
	for i, h := range hs {
		addrs, err := addrList(h, o.family)
		if err != nil {
			if o.err == nil {
				o.err = fmt.Errorf("lab: observer: addresses of %s: %w", o.lab.Nodes[i].Name, err)
			}
			return
		}
		for _, a := range addrs {
			if a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
				continue
			}
			if a.LinkIndex == loopbackIndex {
				continue // an LVS-DR real server's VIP: it never answers for it
			}
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if slices.Contains(o.vips, ip) {
				holders[ip] = append(holders[ip], o.lab.Nodes[i].Name)
			}
		}
	}
	o.rec.add(time.Now(), holders)
	close(o.changed)
	o.changed = make(chan struct{})
}

// loopbackIndex is lo's interface index in every network namespace.
const loopbackIndex = 1

// addrList retries dumps the kernel reports as interrupted by a concurrent
// change (exactly what happens while VIPs move).
func addrList(h *netlink.Handle, family int) ([]netlink.Addr, error) {
	var err error
	for range 5 {
		var addrs []netlink.Addr
		addrs, err = h.AddrList(nil, family)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return addrs, err
		}
	}
	return nil, err
}

// Stop ends sampling (after one last sample) and returns the report. It
// is idempotent and may be called on an observer that never started.
func (o *Observer) Stop() Report {
	o.mu.Lock()
	switch o.state {
	case obsNew:
		o.state = obsStopped
		o.final = o.rec.report()
		o.mu.Unlock()
		return o.final
	case obsStopped:
		defer o.mu.Unlock()
		return o.final
	}
	o.mu.Unlock()
	close(o.stop)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state = obsStopped
	o.final = o.rec.report()
	close(o.changed) // wake waiters so they see the stop
	o.changed = make(chan struct{})
	return o.final
}

// Err returns the first sampling error, if any (samples that failed are
// left out of the timeline).
func (o *Observer) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Snapshot returns the report so far without stopping.
func (o *Observer) Snapshot() Report {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rec.report()
}

// Holders returns the nodes holding vip at the latest sample.
func (o *Observer) Holders(vip netip.Addr) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rec.holders(vip)
}

// Gap is Snapshot().VIP(vip).Gap(after): the first no-holder interval that
// starts at or after the given time.
func (o *Observer) Gap(vip netip.Addr, after time.Time) time.Duration {
	return o.Snapshot().VIP(vip).Gap(after)
}

// WaitHolder waits until node is among vip's holders (others may hold it too).
func (o *Observer) WaitHolder(ctx context.Context, vip netip.Addr, node string) error {
	_, err := o.wait(ctx, vip, func(h []string) bool { return slices.Contains(h, node) })
	if err != nil {
		return fmt.Errorf("lab: waiting for %s to hold %v: %w", node, vip, err)
	}
	return nil
}

// WaitOnlyHolder waits until node is vip's one and only holder.
func (o *Observer) WaitOnlyHolder(ctx context.Context, vip netip.Addr, node string) error {
	_, err := o.wait(ctx, vip, func(h []string) bool { return len(h) == 1 && h[0] == node })
	if err != nil {
		return fmt.Errorf("lab: waiting for %s to be the only holder of %v: %w", node, vip, err)
	}
	return nil
}

// WaitAnyHolder waits until some node holds vip and returns the holders.
func (o *Observer) WaitAnyHolder(ctx context.Context, vip netip.Addr) ([]string, error) {
	h, err := o.wait(ctx, vip, func(h []string) bool { return len(h) > 0 })
	if err != nil {
		return nil, fmt.Errorf("lab: waiting for a holder of %v: %w", vip, err)
	}
	return h, nil
}

// WaitNoHolder waits until no node holds vip.
func (o *Observer) WaitNoHolder(ctx context.Context, vip netip.Addr) error {
	if _, err := o.wait(ctx, vip, func(h []string) bool { return len(h) == 0 }); err != nil {
		return fmt.Errorf("lab: waiting for %v to be unheld: %w", vip, err)
	}
	return nil
}

func (o *Observer) wait(ctx context.Context, vip netip.Addr, cond func([]string) bool) ([]string, error) {
	for {
		o.mu.Lock()
		h := o.rec.holders(vip)
		ok, state, ch := o.rec.samples > 0 && cond(h), o.state, o.changed
		o.mu.Unlock()
		if ok {
			return h, nil
		}
		if state != obsRunning {
			return nil, fmt.Errorf("%w (holders %v)", ErrObserverStopped, h)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (holders %v)", context.Cause(ctx), h)
		case <-ch:
		}
	}
}
