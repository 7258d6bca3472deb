package lab

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ErrNoNetem is returned by Netem when the kernel lacks sch_netem.
var ErrNoNetem = errors.New("lab: tc netem not available in this kernel (needs sch_netem)")

// Cut drops all traffic between a and b, both ways, including multicast
// (VRRP adverts to 224.0.0.18 / ff02::12) and ARP: each drops, on eth0
// ingress, every frame whose source MAC or source address is the other's.
// Other hosts still reach both. It replaces a CutOneWay between them.
func (l *Lab) Cut(a, b *Host) error {
	return l.update(map[*Host]func(*faults){
		a: func(f *faults) { f.from[b.Name] = b.source() },
		b: func(f *faults) { f.from[a.Name] = a.source() },
	})
}

// CutOneWay drops traffic from `from` to `to` only (dropped as it arrives
// at to); to's packets still reach from. from's ARP and neighbour
// discovery still pass, so to can resolve from's address: unicast from to
// works even with a cold neighbour cache (TCP from either side does not,
// as it needs both directions). A Cut between the same hosts wins.
func (l *Lab) CutOneWay(from, to *Host) error {
	return l.update(map[*Host]func(*faults){
		to: func(f *faults) {
			if cur, ok := f.from[from.Name]; ok && !cur.keepNeighbor {
				return // already cut both ways
			}
			s := from.source()
			s.keepNeighbor = true
			f.from[from.Name] = s
		},
	})
}

// Isolate drops everything in and out of h's eth0, ARP included.
func (l *Lab) Isolate(h *Host) error {
	return l.update(map[*Host]func(*faults){
		h: func(f *faults) { f.isolated = true },
	})
}

// Lossy drops pct percent of the frames in and out of h's eth0 at random,
// independently per frame (nftables numgen: `tc netem loss pct%` on a
// kernel without sch_netem); 0 ends it. Other faults on h stay.
func (l *Lab) Lossy(h *Host, pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("lab: loss %d%% out of range", pct)
	}
	return l.update(map[*Host]func(*faults){
		h: func(f *faults) { f.lossPct = pct },
	})
}

// Heal makes the given hosts healthy again: it ends their isolation,
// every cut between them and any other host (rules on either side), and
// their netem qdisc. Cuts between other hosts stay.
func (l *Lab) Heal(hs ...*Host) error {
	names := map[string]bool{}
	for _, h := range hs {
		names[h.Name] = true
	}
	fs := map[*Host]func(*faults){}
	l.mu.Lock()
	for other, f := range l.faults {
		for n := range f.from {
			if names[n] {
				fs[other] = func(f *faults) {
					for n := range names {
						delete(f.from, n)
					}
				}
			}
		}
	}
	l.mu.Unlock()
	for _, h := range hs {
		fs[h] = func(f *faults) { *f = faults{} }
	}
	err := l.update(fs)
	for _, h := range hs {
		err = errors.Join(err, l.clearNetem(h))
	}
	return err
}

// HealAll removes every fault the lab injected.
func (l *Lab) HealAll() error { return l.Heal(l.Hosts()...) }

func (h *Host) source() source {
	return source{mac: h.MAC, addrs: []netip.Addr{h.Addr4, h.Addr6, h.LinkLocal}}
}

// update edits the desired fault state of some hosts and applies each
// changed host's table in full.
func (l *Lab) update(edits map[*Host]func(*faults)) error {
	l.mu.Lock()
	defer l.mu.Unlock() // serialises rule updates too: each renders from l.faults
	var errs []error
	for h, edit := range edits {
		f := l.faults[h]
		f.from = maps.Clone(f.from)
		if f.from == nil {
			f.from = map[string]source{}
		}
		edit(&f)
		if err := h.nft(f.rules(h.Iface)); err != nil {
			errs = append(errs, err)
			continue
		}
		if f.empty() {
			delete(l.faults, h)
		} else {
			l.faults[h] = f
		}
	}
	return errors.Join(errs...)
}

func (h *Host) nft(script string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", h.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: nft in %s: %w: %s\nscript:\n%s", h.NS, err, bytesTrim(out), script)
	}
	return nil
}

// LinkDown sets h's eth0 down (carrier loss as seen by h).
func (l *Lab) LinkDown(h *Host) error {
	if err := h.ref.nl.LinkSetDown(h.eth); err != nil {
		return fmt.Errorf("lab: %s eth0 down: %w", h.Name, err)
	}
	return nil
}

// LinkUp sets h's eth0 up again and restores its default routes, which
// the kernel deleted on link down (addresses are kept).
func (l *Lab) LinkUp(h *Host) error {
	if err := h.ref.nl.LinkSetUp(h.eth); err != nil {
		return fmt.Errorf("lab: %s eth0 up: %w", h.Name, err)
	}
	return h.defaultRoutes()
}

var netem struct {
	once sync.Once
	err  error
}

// netemAvailable tries a netem qdisc once per process in a throwaway
// namespace (unshare -n, gone when tc exits) and caches the answer.
func netemAvailable() error {
	netem.once.Do(func() {
		out, err := exec.Command("unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms").CombinedOutput()
		if err != nil {
			netem.err = fmt.Errorf("%w: %s", ErrNoNetem, bytesTrim(out))
		}
	})
	return netem.err
}

// Netem delays h's outgoing packets by delay and drops loss percent of
// them (tc netem on eth0); zero delay and loss remove it. On kernels
// without sch_netem it returns an error matching ErrNoNetem.
func (l *Lab) Netem(h *Host, delay time.Duration, loss float64) error {
	if err := netemAvailable(); err != nil {
		return err
	}
	if delay == 0 && loss == 0 {
		return l.clearNetem(h)
	}
	args := []string{"tc", "qdisc", "replace", "dev", h.Iface, "root", "netem",
		"delay", fmt.Sprintf("%dus", delay.Microseconds()), "loss", fmt.Sprintf("%g%%", loss)}
	if _, err := h.Exec(context.Background(), args...); err != nil {
		return err
	}
	l.mu.Lock()
	if l.netem == nil {
		l.netem = map[*Host]bool{}
	}
	l.netem[h] = true
	l.mu.Unlock()
	return nil
}

func (l *Lab) clearNetem(h *Host) error {
	l.mu.Lock()
	on := l.netem[h]
	delete(l.netem, h)
	l.mu.Unlock()
	if !on {
		return nil
	}
	_, err := h.Exec(context.Background(), "tc", "qdisc", "del", "dev", h.Iface, "root")
	return err
}
