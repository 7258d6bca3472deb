package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lb"
	"github.com/vipd/vipd/lb/check"
	"github.com/vipd/vipd/lb/dataplane"
	"github.com/vipd/vipd/lb/ipvs"
	"github.com/vipd/vipd/lb/nft"
	"github.com/vipd/vipd/vrrp/track"
)

// lbRun is one running load-balancer manager; a reload replaces it.
type lbRun struct {
	m      *lb.Manager
	cancel context.CancelFunc
	done   chan error
}

// newLB builds the load balancer for cfg's virtual servers: nil, nil when
// there are none. plane is reused across reloads (nil: choose one).
func newLB(cfg *config.Config, stateDir string, plane dataplane.Plane, resume map[string]check.Status, log *slog.Logger) (*lb.Manager, dataplane.Plane, error) {
	if len(cfg.VirtualServers) == 0 {
		return nil, plane, nil
	}
	if plane == nil {
		var err error
		if plane, err = choosePlane(cfg, stateDir, log); err != nil {
			return nil, nil, err
		}
	}
	warnForwarding(cfg, log)
	m, err := lb.New(cfg, plane, lb.Options{
		Log:    log,
		Runner: track.ExecRunner{},
		Dev:    func(a netip.Addr) string { return devOf(cfg, a) },
		Local:  isLocal,
		Resume: resume,
	})
	return m, plane, err
}

// choosePlane picks the data plane for lb_dataplane: auto takes IPVS when
// the kernel has it, as keepalived would, unless a virtual server needs
// nftables (snat); else nftables. A plane that cannot run says why.
func choosePlane(cfg *config.Config, stateDir string, log *slog.Logger) (dataplane.Plane, error) {
	mode := cfg.Global.LBDataplane
	ipvsErr := ipvs.Available()
	// IPVS has no owner tags: the plane lists what it made in this file.
	newIPVSPlane := func() (dataplane.Plane, error) { return ipvs.New(filepath.Join(stateDir, "ipvs.json")) }
	switch mode {
	case config.DataplaneIPVS:
		if ipvsErr != nil {
			return nil, fmt.Errorf("lb_dataplane ipvs: %w", ipvsErr)
		}
		return newIPVSPlane()
	case config.DataplaneAuto, "":
		snat := false
		for _, vs := range cfg.VirtualServers {
			snat = snat || vs.SNAT
		}
		switch {
		case ipvsErr == nil && !snat:
			return newIPVSPlane()
		case ipvsErr == nil:
			log.Info("load balancer: using nftables although IPVS is available", "reason", "a virtual_server uses snat, which IPVS cannot do")
		default:
			log.Info("load balancer: IPVS not available, using nftables", "reason", ipvsErr)
		}
	}
	if err := nft.Available(); err != nil {
		return nil, fmt.Errorf("lb_dataplane nftables: %w", err)
	}
	c, err := nft.Dial()
	if err != nil {
		return nil, fmt.Errorf("lb_dataplane nftables: %w", err)
	}
	return nft.New(c, ""), nil
}

// warnForwarding says once that NAT cannot work with forwarding off:
// the director forwards every DNATed packet (keepalived's LVS-NAT needs
// the same sysctl; neither daemon changes it behind the operator's back).
func warnForwarding(cfg *config.Config, log *slog.Logger) {
	nat := false
	for _, vs := range cfg.VirtualServers {
		nat = nat || vs.LBKind == "" || vs.LBKind == dataplane.NAT
	}
	if !nat {
		return
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err == nil && strings.TrimSpace(string(b)) == "0" {
		log.Warn("net.ipv4.ip_forward is 0: lb_kind NAT services cannot forward to their real servers; set it with sysctl -w net.ipv4.ip_forward=1")
	}
}

// devOf names the interface addr arrives on: the VRRP instance that holds
// it as a virtual_ipaddress (its dev, else the instance's interface), else
// the route to it.
func devOf(cfg *config.Config, a netip.Addr) string {
	for _, in := range cfg.Instances {
		for _, v := range in.VIPs {
			if v.Prefix.Addr() == a {
				if v.Dev != "" {
					return v.Dev
				}
				return in.Interface
			}
		}
	}
	routes, err := netlink.RouteGet(net.IP(a.AsSlice()))
	if err != nil || len(routes) == 0 {
		return ""
	}
	if l, err := netlink.LinkByIndex(routes[0].LinkIndex); err == nil {
		return l.Attrs().Name
	}
	return ""
}

// isLocal reports whether addr is assigned here (ha_suspend). Every
// checker of an ha_suspend virtual server asks before each probe, so the
// address list is read at most once per localTTL, not once per probe.
func isLocal(a netip.Addr) bool {
	local.mu.Lock()
	defer local.mu.Unlock()
	if time.Since(local.at) > localTTL {
		addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return true // unknown: keep checking rather than go blind
		}
		local.set = map[netip.Addr]bool{}
		for _, x := range addrs {
			if y, ok := netip.AddrFromSlice(x.IP); ok {
				local.set[y.Unmap()] = true
			}
		}
		local.at = time.Now()
	}
	return local.set[a]
}

// localTTL bounds how stale isLocal's view is: a takeover resumes the
// checks within it, far below any delay_loop.
const localTTL = 100 * time.Millisecond

var local struct {
	mu  sync.Mutex
	at  time.Time
	set map[netip.Addr]bool
}
