package vrrp

import (
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/track"
	"github.com/vipd/vipd/vrrp/vip"
)

// instance is one vrrp_instance at run time. Every field is owned by the
// engine goroutine; nothing here is safe for concurrent use.
type instance struct {
	cfg     *config.Instance
	global  *config.GlobalDefs
	group   *group // nil when not in a vrrp_sync_group
	gidx    int    // member index in group
	log     *slog.Logger
	m       *Machine
	link    *link
	version uint8
	advInt  time.Duration

	vips     []vip.Addr   // virtual_ipaddress then virtual_ipaddress_excluded
	advAddrs []netip.Addr // addresses carried in adverts
	annAddrs []netip.Addr // addresses announced by GARP / NA
	dsts     []netip.Addr // the multicast group or the unicast peers
	expect   Expect       // receive validation
	trackers []track.Tracker

	// Kernel fence: while holding, the VIPs expire at fenceUntil unless
	// refreshed at refreshAt.
	holding    bool
	routed     bool // virtual_routes/virtual_rules installed with the VIPs
	lifetime   time.Duration
	fenceUntil time.Time
	refreshAt  time.Time

	// Break before make: a takeover that preempts a live master installs
	// the VIPs once that master no longer answers for them (awaiting), and
	// the takeover's announcement waits with them (announceDue). awaitGen
	// tells a stale answer from the current one.
	awaiting    bool
	announceDue bool
	awaitGen    uint64

	lastAdvert time.Time // a live advert last arrived (damping.go)

	// Gratuitous ARP / NA schedule after becoming master.
	garpSecondAt  time.Time // garp_master_delay burst; zero when none pending
	garpRefreshAt time.Time // garp_master_refresh; zero when off
	garpLowerAt   time.Time // garp_lower_prio_delay burst; zero when none pending

	gate    gateState                              // the arbiter's view (unused when not gated)
	grantFn func(in *instance, now time.Time) bool // Params.Grant, set with the unit; nil allows

	prio        uint8 // effective priority last given to the machine
	fault       bool
	faultReason string

	stats control.InstanceStats
	drops *DropCounter
	last  control.Transition
	buf   []byte
}

func newInstance(c *config.Instance, g *config.GlobalDefs, l *link, log *slog.Logger, drops *DropCounter) *instance {
	in := newInstanceConfig(c, g, l)
	in.log = log.With("instance", c.Name)
	in.drops = drops
	in.prio = uint8(c.Priority)
	in.m = NewMachine(in.params())
	return in
}

// params are the state machine's parameters from the instance's config.
func (in *instance) params() Params {
	c := in.cfg
	return Params{
		Name:                 c.Name,
		Version:              int(in.version),
		Priority:             uint8(c.Priority),
		AdvertInterval:       in.advInt,
		Preempt:              !c.Nopreempt,
		PreemptDelay:         c.PreemptDelay,
		WantMaster:           c.InitialState() == config.StateMaster,
		PrimaryAddr:          in.link.conn.LocalAddr(),
		DownTimerAdverts:     c.DownTimerAdverts,
		LowerPrioNoAdvert:    c.LowerPrioNoAdvert,
		HigherPrioSendAdvert: c.HigherPrioSendAdvert,
		Grant: func(now time.Time) bool {
			return in.grantFn == nil || in.grantFn(in, now)
		},
	}
}

// newInstanceConfig derives from the config everything an instance needs
// that is not run-time state (reload replaces exactly these fields).
func newInstanceConfig(c *config.Instance, g *config.GlobalDefs, l *link) *instance {
	in := &instance{
		cfg:     c,
		global:  g,
		link:    l,
		version: uint8(c.EffectiveVersion()),
		advInt:  c.EffectiveAdvertInt(),
	}
	// VIPs without a dev go on the instance's link: the interface, or its
	// VMAC with use_vmac.
	for _, v := range c.VIPs {
		in.vips = append(in.vips, vipAddr(v, l.key.ifname))
		if v.Prefix.Addr().Is4() == (c.Family == 4) {
			in.advAddrs = append(in.advAddrs, v.Prefix.Addr())
		}
		in.annAddrs = append(in.annAddrs, v.Prefix.Addr())
	}
	for _, v := range c.ExcludedVIPs {
		in.vips = append(in.vips, vipAddr(v, l.key.ifname))
		in.annAddrs = append(in.annAddrs, v.Prefix.Addr())
	}
	in.lifetime = fenceLifetime(in.advInt)
	if len(c.UnicastPeers) > 0 {
		in.dsts = c.UnicastPeers
	} else {
		in.dsts = []netip.Addr{l.group}
	}
	in.expect = Expect{
		Version:      in.version,
		VRID:         uint8(c.VRID),
		Family:       c.Family,
		AdvertInt:    IntervalToField(in.version, in.advInt),
		Strict:       c.Strict,
		CheckAddrs:   in.advAddrs,
		UnicastPeers: c.UnicastPeers,
		// keepalived's check_unicast_src (off by default there too).
		CheckUnicastSrc: c.CheckUnicastSrc,
		PeerTTL:         c.PeerTTL,
	}
	if in.version == 2 && c.AuthType == config.AuthPass {
		in.expect.AuthType = 1
		in.expect.AuthData = PassAuth(c.AuthPass)
	}
	in.trackers = trackersOf(c)
	return in
}

func vipAddr(v config.VIP, defaultDev string) vip.Addr {
	dev := v.Dev
	if dev == "" {
		dev = defaultDev
	}
	return vip.Addr{Prefix: v.Prefix, Dev: dev, Label: v.Label, Scope: v.Scope, Brd: v.Brd}
}

// trackersOf lists what changes the instance's priority (the config layer
// already resolved unweighted track_script entries to the script's weight).
// As in keepalived, the instance's own interface going down puts it in
// FAULT unless dont_track_primary is set.
func trackersOf(c *config.Instance) []track.Tracker {
	var ts []track.Tracker
	if !c.DontTrackPrimary {
		ts = append(ts, track.Tracker{Name: c.Interface, Kind: track.KindInterface})
	}
	for _, r := range c.TrackScripts {
		ts = append(ts, track.Tracker{Name: r.Name, Kind: track.KindScript, Weight: r.Weight, Reverse: r.Reverse})
	}
	for _, r := range c.TrackInterfaces {
		ts = append(ts, track.Tracker{Name: r.Name, Kind: track.KindInterface, Weight: r.Weight, Reverse: r.Reverse})
	}
	for _, r := range c.TrackProcesses {
		ts = append(ts, track.Tracker{Name: r.Name, Kind: track.KindProcess, Weight: r.Weight, Reverse: r.Reverse})
	}
	for _, r := range c.TrackFiles {
		ts = append(ts, track.Tracker{Name: r.Name, Kind: track.KindFile, Weight: r.Weight, Reverse: r.Reverse})
	}
	return ts
}

// nextDeadline is the earliest time the engine must call tick.
func (in *instance) nextDeadline() time.Time {
	d := in.m.NextDeadline()
	for _, t := range []time.Time{in.refreshAt, in.garpSecondAt, in.garpRefreshAt, in.garpLowerAt, in.gate.claimAt, in.dampEnd()} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// fenceExpired reports whether the kernel may already have dropped our VIPs
// because we did not refresh them in time (the process was frozen or
// starved): refreshing now could re-add a VIP a backup has claimed since.
func (in *instance) fenceExpired(now time.Time) bool {
	return in.holding && !now.Before(in.fenceUntil.Add(-fenceMargin))
}

func (in *instance) dropVIPs() {
	in.link.dropPaced(in.annAddrs)
	in.garpLowerAt = time.Time{}
	in.holding = false
	in.awaiting, in.announceDue = false, false
	in.refreshAt = time.Time{}
	in.garpSecondAt = time.Time{}
	in.garpRefreshAt = time.Time{}
}

// sendAdvert builds and sends one advert to every destination.
func (in *instance) sendAdvert(prio uint8) {
	a := Advert{
		Version:   in.version,
		Type:      1,
		VRID:      uint8(in.cfg.VRID),
		Priority:  prio,
		AdvertInt: IntervalToField(in.version, in.advInt),
		AuthType:  in.expect.AuthType,
		AuthData:  in.expect.AuthData,
		Addrs:     in.advAddrs,
	}
	src := in.link.conn.LocalAddr()
	for _, dst := range in.dsts {
		b, err := a.AppendMarshal(in.buf[:0], src, dst)
		if err != nil {
			in.log.Error("marshal advert", "err", err)
			return
		}
		in.buf = b
		if err := in.link.conn.WriteTo(b, dst); err != nil {
			in.log.Warn("send advert", "dst", dst, "err", err)
			continue
		}
		in.stats.AdvertsSent++
	}
}

// announce sends one GARP/NA round: repeat packets per address. With
// garp_interval (IPv4) or gna_interval (IPv6) set, the packets leave the
// link one interval apart instead (link.paceAnnounce), as keepalived
// spaces the gratuitous ARPs it sends on an interface.
func (in *instance) announce(now time.Time, repeat int) {
	if in.link.ann == nil || len(in.annAddrs) == 0 {
		return
	}
	if in.cfg.GARPInterval <= 0 && in.cfg.GNAInterval <= 0 && len(in.link.paced) == 0 {
		for range max(repeat, 1) {
			if err := in.link.ann.Announce(in.annAddrs, nil); err != nil {
				in.log.Warn("gratuitous ARP/NA", "err", err)
				return
			}
		}
		return
	}
	for range max(repeat, 1) {
		for _, a := range in.annAddrs {
			every := in.cfg.GARPInterval
			if a.Is6() {
				every = in.cfg.GNAInterval
			}
			in.link.paced = append(in.link.paced, pacedAnnounce{addr: a, every: every, log: in.log})
		}
	}
	in.link.paceAnnounce(now)
}

// pacedAnnounce is one gratuitous ARP/NA waiting for its turn on a link.
type pacedAnnounce struct {
	addr  netip.Addr
	every time.Duration // the pause after it (garp_interval / gna_interval)
	log   *slog.Logger
}

// paceAnnounce sends the paced announcements that are due; nextAt is the
// next one's time (zero when none waits).
func (l *link) paceAnnounce(now time.Time) {
	for len(l.paced) > 0 && !now.Before(l.nextAnnounce) {
		p := l.paced[0]
		l.paced = l.paced[1:]
		if err := l.ann.Announce([]netip.Addr{p.addr}, nil); err != nil {
			p.log.Warn("gratuitous ARP/NA", "err", err)
		}
		l.nextAnnounce = now.Add(p.every)
	}
	if len(l.paced) == 0 {
		l.paced = nil
	}
}

// dropPaced forgets the paced announcements of addresses we no longer hold.
func (l *link) dropPaced(addrs []netip.Addr) {
	l.paced = slices.DeleteFunc(l.paced, func(p pacedAnnounce) bool { return slices.Contains(addrs, p.addr) })
}

// announceMaster sends the burst that follows becoming master and
// schedules the garp_master_delay burst and the refreshes.
func (in *instance) announceMaster(now time.Time) {
	in.announce(now, in.garpRepeat())
	if d := in.garpDelay(); d > 0 {
		in.garpSecondAt = now.Add(d)
	}
	if r := in.garpRefresh(); r > 0 {
		in.garpRefreshAt = now.Add(r)
	}
}

func (in *instance) garpDelay() time.Duration   { return in.cfg.GARPMasterDelay }
func (in *instance) garpRepeat() int            { return in.cfg.GARPMasterRepeat }
func (in *instance) garpRefresh() time.Duration { return in.cfg.GARPMasterRefresh }

// status is the instance as vipctl shows it.
func (in *instance) status(trk map[trackKey]track.Status) control.InstanceStatus {
	st := control.InstanceStatus{
		Name:         in.cfg.Name,
		Interface:    in.cfg.Interface,
		VRID:         in.cfg.VRID,
		Version:      int(in.version),
		State:        in.m.State().String(),
		Priority:     int(in.m.Priority()),
		BasePriority: in.cfg.Priority,
		AdvertInt:    in.advInt,
		Last:         in.last,
		Stats:        in.stats,
	}
	if a := in.m.MasterAddr(); a.IsValid() {
		st.MasterAddr = a.String()
	}
	if in.group != nil {
		st.SyncGroup = in.group.cfg.Name
	}
	if in.holding {
		st.FenceUntil = in.fenceUntil
	}
	for _, v := range in.vips {
		st.VIPs = append(st.VIPs, v.Prefix.String())
	}
	st.Stats.Dropped = map[string]uint64{}
	for r, n := range in.drops.Counts() {
		st.Stats.Dropped[string(r)] = n
	}
	for _, t := range in.trackers {
		s := trk[trackKey{t.Kind, t.Name}]
		st.Trackers = append(st.Trackers, control.TrackerStatus{
			Name: t.Name, Kind: t.Kind, Known: s.Known, OK: s.OK, Weight: t.Weight,
			Value: s.Value, Detail: s.Detail, Since: s.Since,
		})
	}
	return st
}

func (in *instance) notifyScripts() notify.Scripts {
	return notify.Scripts{
		Master:  in.cfg.NotifyMaster,
		Backup:  in.cfg.NotifyBackup,
		Fault:   in.cfg.NotifyFault,
		Stop:    in.cfg.NotifyStop,
		Generic: in.cfg.Notify,
		User:    runAsName(in.global.ScriptUser, in.global.ScriptGroup),
	}
}

// countTransition adds one From → To to the status's per-pair counts.
func (in *instance) countTransition(from, to string) {
	for i := range in.stats.ByTransition {
		if c := &in.stats.ByTransition[i]; c.From == from && c.To == to {
			c.Count++
			return
		}
	}
	in.stats.ByTransition = append(in.stats.ByTransition, control.TransitionCount{From: from, To: to, Count: 1})
}
