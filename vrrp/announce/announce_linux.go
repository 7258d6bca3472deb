package announce

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
)

// dropAll is a socket filter that accepts no packets: these sockets only
// send, and must not queue every ARP or IPv6 frame on a busy LAN.
var dropAll = mustAssemble(bpf.RetConstant{Val: 0})

func mustAssemble(insns ...bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		panic(err)
	}
	return raw
}

// Open opens packet sockets on the interface ifname. It reads the
// interface's IPv6 forwarding setting once, for the NA Router flag.
func Open(ifname string) (*Announcer, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("announce: interface %q: %w", ifname, err)
	}
	cfg := &packet.Config{Filter: dropAll}
	arpConn, err := packet.Listen(ifi, packet.Raw, etherTypeARP, cfg)
	if err != nil {
		return nil, fmt.Errorf("announce: ARP socket on %s: %w", ifname, err)
	}
	ndConn, err := packet.Listen(ifi, packet.Raw, etherTypeIPv6, cfg)
	if err != nil {
		arpConn.Close()
		return nil, fmt.Errorf("announce: IPv6 socket on %s: %w", ifname, err)
	}
	return New(ifi, arpConn, ndConn, ipv6Forwarding(ifname)), nil
}

// ipv6Forwarding reports net.ipv6.conf.<ifname>.forwarding; unreadable
// (IPv6 disabled) counts as off.
func ipv6Forwarding(ifname string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/forwarding")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
