package vrrp

import (
	"context"
	"net/netip"
	"time"
)

// Break before make. In VRRP a backup that preempts a live lower-priority
// master installs the VIPs as it sends its first advert, and the old master
// drops them only when that advert has reached it and been processed: for
// those milliseconds (longer on a loaded host) both hold the VIPs. Without
// an arbiter to hand the VIPs over, the preempting master watches instead:
// it keeps advertising and installs the VIPs once no host answers ARP for
// them any more. The kernel answers ARP for an address as long as it is
// configured, however starved the old master's process is, so silence means
// the address is gone. A master that still answers after a whole
// Master_Down_Interval of our adverts is not stepping down (no VRRP peer,
// or a static address): we take over regardless, as keepalived would.

// releasePoll is one probe round for the preempted master's VIPs: three
// RFC 5227 probes spread over it; an answer ends the round at once.
const releasePoll = 30 * time.Millisecond

// releasePause spaces the rounds while the old master still answers, so a
// holder that never lets go costs a bounded trickle of ARP probes.
const releasePause = 10 * time.Millisecond

// releaseResult is the end of a wait for a preempted master.
type releaseResult struct {
	inst   string
	gen    uint64
	holder string // the host still answering when the wait gave up
	err    error  // the probe could not run: nothing is known
}

// awaitRelease starts waiting for the preempted master to drop the VIPs,
// and reports whether it did: only plain VRRP instances with IPv4 VIPs can
// wait (a gated instance's grant already implies the holder released;
// IPv6 VIPs cannot be probed by ARP and are installed at once, as before).
func (e *Engine) awaitRelease(in *instance, preempted netip.Addr) bool {
	addrs := in.probeAddrs()
	if !preempted.IsValid() || e.gated(in) || e.opt.ProbeVIP == nil || len(addrs) == 0 {
		return false
	}
	in.awaitGen++
	in.awaiting = true
	in.log.Info("waiting for the preempted master to release the VIPs", "master", preempted)
	res, ifname, bound := releaseResult{inst: in.cfg.Name, gen: in.awaitGen}, in.link.key.ifname, in.m.MasterDownInterval()
	e.spawn(func() { e.waitReleased(res, ifname, addrs, bound) })
	return true
}

// waitReleased probes vips on ifname until no host answers for any of them
// or bound has passed, then reports to the engine goroutine. It runs on its
// own goroutine and ends with Run's context.
func (e *Engine) waitReleased(res releaseResult, ifname string, vips []netip.Addr, bound time.Duration) {
	end := time.Now().Add(bound)
	for {
		res.holder, res.err = e.answering(ifname, vips)
		if res.holder == "" || res.err != nil || !time.Now().Before(end) {
			break
		}
		select {
		case <-time.After(releasePause):
		case <-e.runCtx.Done():
			return
		}
	}
	select {
	case e.released <- res:
	case <-e.runCtx.Done():
	}
}

// answering returns the first host that answers for one of vips ("" when
// none does).
func (e *Engine) answering(ifname string, vips []netip.Addr) (string, error) {
	for _, v := range vips {
		ctx, cancel := context.WithTimeout(e.runCtx, releasePoll)
		holder, found, err := e.opt.ProbeVIP(ctx, ifname, v)
		expired := ctx.Err() != nil // the round ended: nobody answered in it
		cancel()
		if err != nil && !expired {
			return "", err
		}
		if found {
			return holder, nil
		}
	}
	return "", nil
}

// releaseDone installs the VIPs (and announces them) once the preempted
// master let go, unless the instance left MASTER meanwhile.
func (e *Engine) releaseDone(now time.Time, r releaseResult) {
	in := e.byKey[r.inst]
	if in == nil || !in.awaiting || in.awaitGen != r.gen {
		return
	}
	switch {
	case r.err != nil:
		in.log.Warn("cannot tell whether the preempted master released the VIPs; installing them", "err", r.err)
	case r.holder != "":
		in.log.Warn("the preempted master still answers for the VIPs after a whole master down interval; installing them", "holder", r.holder)
	}
	in.awaiting = false
	e.installVIPs(now, in)
	if in.announceDue {
		in.announceDue = false
		in.announceMaster(now)
	}
}
