package vrrp

import "net/netip"

// blocksVIPs reports whether in runs without accept mode: a master that
// is not the address owner must then neither accept packets addressed to
// its VIPs nor send from them (RFC 5798 Accept_Mode; no_accept, the
// default under strict_mode). keepalived enforces it with nftables.
func blocksVIPs(in *instance) bool {
	return !in.cfg.Accept && in.cfg.Priority != fsmOwnerPrio
}

// syncFirewall keeps accept mode's drop set equal to the VIPs of the
// instances that hold them without accept mode, plus those of adding,
// which is about to install them. Everything else is accepted.
func (e *Engine) syncFirewall(adding *instance) {
	var want []netip.Addr
	need := false
	for _, in := range e.insts {
		if !blocksVIPs(in) {
			continue
		}
		need = true
		if in.holding || in == adding {
			for _, v := range in.vips {
				want = append(want, v.Prefix.Addr())
			}
		}
	}
	if e.fw == nil {
		if !need || len(want) == 0 || e.fwFailed {
			return
		}
		if e.opt.OpenFirewall == nil {
			e.fwFailed = true
			e.log.Warn("no_accept (strict mode) is not enforced: no firewall; the master accepts traffic to its VIPs")
			return
		}
		fw, err := e.opt.OpenFirewall()
		if err != nil {
			e.fwFailed = true
			e.log.Error("no_accept (strict mode) is not enforced: cannot set up the nftables drop set", "err", err)
			return
		}
		e.fw = fw
	}
	if err := e.fw.Apply(want); err != nil {
		e.log.Error("no_accept: update the nftables drop set", "err", err)
	}
}

// closeFirewall removes the drop set at shutdown.
func (e *Engine) closeFirewall() {
	if e.fw == nil {
		return
	}
	if err := e.fw.Close(); err != nil {
		e.log.Warn("remove the no_accept drop set", "err", err)
	}
	e.fw = nil
}
