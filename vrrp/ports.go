package vrrp

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/notify"
	"github.com/vipd/vipd/vrrp/track"
	"github.com/vipd/vipd/vrrp/vip"
	"github.com/vipd/vipd/vrrp/vrrpconn"
)

// The engine's OS effects, declared here by their consumer so the engine is
// tested with fakes; the real implementations live in vrrpconn, vip and
// announce and are tested in network namespaces.

// PacketConn sends and receives VRRP payloads on one (interface, family).
// One conn is shared by every instance on that interface; the engine
// demultiplexes received adverts by VRID.
type PacketConn interface {
	ReadFrom(b []byte) (int, vrrpconn.Meta, error)
	WriteTo(b []byte, dst netip.Addr) error
	LocalAddr() netip.Addr
	Close() error
}

// AddrManager installs VIPs in the kernel with a lifetime (the kernel fence).
type AddrManager interface {
	Apply(addrs []vip.Addr, lifetime time.Duration) error
	Remove(addrs []vip.Addr) error
}

// VMACManager creates and deletes the macvlan interfaces of use_vmac,
// carrying the VRRP virtual MAC 00:00:5e:00:01:VRID.
type VMACManager interface {
	CreateVMAC(parent string, vrid uint8, family int, name string) (string, error)
	DeleteVMAC(name string) error
}

// Firewall is accept mode's drop set (package firewall): traffic to and
// from the addresses last applied is dropped. Apply takes the whole set.
type Firewall interface {
	Apply(addrs []netip.Addr) error
	Close() error
}

// FirewallOpener creates the drop set, empty, when the first instance
// needs it.
type FirewallOpener func() (Firewall, error)

// Announcer sends one gratuitous ARP / unsolicited NA per address.
type Announcer interface {
	Announce(addrs []netip.Addr, hw net.HardwareAddr) error
	Close() error
}

// Notifier runs notify scripts without blocking the protocol.
type Notifier interface {
	Notify(s notify.Scripts, ev notify.Event)
}

// ConnOpener opens the shared packet conn of an interface and family.
type ConnOpener func(cfg vrrpconn.Config) (PacketConn, error)

// AnnouncerOpener opens the announcer of an interface.
type AnnouncerOpener func(ifname string) (Announcer, error)

// Trackers starts what reports tracker results — vrrp_script runs,
// interface link state, track files — and sends every change to out until
// ctx ends. The engine restarts it on reload.
type Trackers func(ctx context.Context, cfg *config.Config, out chan<- track.Status)
