package ipvs

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	libipvs "github.com/moby/ipvs"
)

// Kernel is the part of *libipvs.Handle (github.com/moby/ipvs) the plane
// uses; tests give it a fake.
type Kernel interface {
	GetServices() ([]*libipvs.Service, error)
	GetDestinations(*libipvs.Service) ([]*libipvs.Destination, error)
	NewService(*libipvs.Service) error
	UpdateService(*libipvs.Service) error
	DelService(*libipvs.Service) error
	NewDestination(*libipvs.Service, *libipvs.Destination) error
	UpdateDestination(*libipvs.Service, *libipvs.Destination) error
	DelDestination(*libipvs.Service, *libipvs.Destination) error
}

var _ Kernel = (*libipvs.Handle)(nil)

func addressFamily(v6 bool) uint16 {
	if v6 {
		return syscall.AF_INET6
	}
	return syscall.AF_INET
}

// toService is s as moby/ipvs takes it.
func toService(s svcSpec) *libipvs.Service {
	out := &libipvs.Service{
		AddressFamily: addressFamily(s.Key.V6),
		SchedName:     s.Sched,
		Flags:         s.Flags,
		Timeout:       s.Timeout,
		Netmask:       s.Netmask,
	}
	if s.Key.FWMark != 0 {
		out.FWMark = s.Key.FWMark
	} else {
		out.Address = net.IP(s.Key.Addr.AsSlice())
		out.Protocol = s.Key.Proto
		out.Port = s.Key.Port
	}
	return out
}

// toDest is d as moby/ipvs takes it.
func toDest(d destSpec) *libipvs.Destination {
	return &libipvs.Destination{
		Address:         net.IP(d.Addr.AsSlice()),
		Port:            d.Port,
		Weight:          d.Weight,
		ConnectionFlags: d.Fwd,
		AddressFamily:   addressFamily(d.Addr.Is6()),
	}
}

// fromService is the kernel's service in the form diff compares; ok is
// false for families vipd does not program.
func fromService(s *libipvs.Service) (spec svcSpec, ok bool) {
	var key svcKey
	switch s.AddressFamily {
	case syscall.AF_INET:
	case syscall.AF_INET6:
		key.V6 = true
	default:
		return svcSpec{}, false
	}
	if s.FWMark != 0 {
		key.FWMark = s.FWMark
	} else {
		a, ok := netip.AddrFromSlice(s.Address)
		if !ok {
			return svcSpec{}, false
		}
		key.Addr, key.Proto, key.Port = a.Unmap(), s.Protocol, s.Port
	}
	return svcSpec{Key: key, Sched: s.SchedName, Flags: s.Flags &^ flagHashed, Timeout: s.Timeout, Netmask: s.Netmask}, true
}

func fromDest(d *libipvs.Destination) (destSpec, error) {
	a, ok := netip.AddrFromSlice(d.Address)
	if !ok {
		return destSpec{}, fmt.Errorf("real server address %v", d.Address)
	}
	return destSpec{Addr: a.Unmap(), Port: d.Port, Fwd: d.ConnectionFlags & fwdMask, Weight: d.Weight}, nil
}
