package vip

import (
	"fmt"
	"net"
)

// VMACAddr returns the RFC 5798 section 7.3 virtual router MAC address:
// 00-00-5E-00-01-{VRID} for IPv4 and 00-00-5E-00-02-{VRID} for IPv6.
func VMACAddr(vrid uint8, family int) (net.HardwareAddr, error) {
	switch family {
	case 4:
		return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}, nil
	case 6:
		return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x02, vrid}, nil
	}
	return nil, fmt.Errorf("vip: family %d: want 4 or 6", family)
}

// DefaultVMACName is keepalived's name for a use_vmac interface given
// without a name: "vrrp.<vrid>", or "vrrp6.<vrid>" for IPv6.
func DefaultVMACName(vrid uint8, family int) string {
	if family == 6 {
		return fmt.Sprintf("vrrp6.%d", vrid)
	}
	return fmt.Sprintf("vrrp.%d", vrid)
}
