package ipvs

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	libipvs "github.com/moby/ipvs"
)

var nsCounter atomic.Int32

// recorder passes calls to a real kernel and records the mutating ones.
type recorder struct {
	Kernel
	calls []string
}

func (r *recorder) rec(name string, s *libipvs.Service) { r.calls = append(r.calls, name+" "+keyOf(s)) }

func (r *recorder) NewService(s *libipvs.Service) error {
	r.rec("NewService", s)
	return r.Kernel.NewService(s)
}

func (r *recorder) UpdateService(s *libipvs.Service) error {
	r.rec("UpdateService", s)
	return r.Kernel.UpdateService(s)
}

func (r *recorder) DelService(s *libipvs.Service) error {
	r.rec("DelService", s)
	return r.Kernel.DelService(s)
}

func (r *recorder) NewDestination(s *libipvs.Service, d *libipvs.Destination) error {
	r.rec("NewDestination", s)
	return r.Kernel.NewDestination(s, d)
}

func (r *recorder) UpdateDestination(s *libipvs.Service, d *libipvs.Destination) error {
	r.rec("UpdateDestination", s)
	return r.Kernel.UpdateDestination(s, d)
}

func (r *recorder) DelDestination(s *libipvs.Service, d *libipvs.Destination) error {
	r.rec("DelDestination", s)
	return r.Kernel.DelDestination(s, d)
}

func (r *recorder) take() []string {
	c := r.calls
	r.calls = nil
	return c
}

// TestKernelEndToEnd programs the real IPVS of a private network namespace
// and reads it back with the handle: what the fake kernel stands for in
// the other tests (flags, netmask and timeout as the kernel reports them,
// errnos, fwmark and IPv6 services).
func TestKernelEndToEnd(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err.Error())
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	name := fmt.Sprintf("vipdipvs-%d-%d", os.Getpid(), nsCounter.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := libipvs.New(filepath.Join("/run/netns", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	endToEnd(t, h)
}

// TestFakeEndToEnd runs TestKernelEndToEnd's steps against the fake kernel,
// so that the steps and their expectations are checked on every machine.
func TestFakeEndToEnd(t *testing.T) { endToEnd(t, newFakeKernel()) }

func endToEnd(t *testing.T, h Kernel) {
	// An operator's service, which vipd must leave alone.
	hand := &libipvs.Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_UDP,
		Address: net.ParseIP("10.0.0.1"), Port: 53, SchedName: "rr", Netmask: 0xffffffff}
	if err := h.NewService(hand); err != nil {
		t.Fatalf("operator's service: %v", err)
	}
	if err := h.NewDestination(hand, &libipvs.Destination{Address: net.ParseIP("10.0.0.2"), Port: 53, Weight: 1}); err != nil {
		t.Fatal(err)
	}

	k := &recorder{Kernel: h}
	p, err := NewWithKernel(k, filepath.Join(t.TempDir(), "ipvs.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Remove() })

	web := func(bs ...Backend) Service {
		return Service{Name: "web", VIP: vip, Port: 80, Algo: "wrr", Backends: bs, Sorry: &sry,
			Persistence: 300 * time.Second, PersistenceMask: netip.MustParseAddr("255.255.255.0")}
	}
	fwm := Service{Name: "fwm", VIP: vip, FWMark: 7, Kind: "DR", Algo: "sh", Backends: []Backend{{Addr: rs3.Addr, Weight: 1}}}
	v6 := Service{Name: "dns6", VIP: vip6, Port: 53, Proto: "udp", Algo: "rr", Kind: "TUN", Persistence: time.Minute,
		PersistenceMask: netip.MustParseAddr("ffff:ffff:ffff:ffff::"),
		Backends:        []Backend{{Addr: netip.MustParseAddr("fd00::11"), Port: 53, Weight: 2}}}
	heavier, inhibited := rs1, rs2
	heavier.Weight, inhibited.Weight = 9, 0

	steps := []struct {
		name      string
		st        State
		wantCalls int // -1: any
		want      string
	}{
		{"first apply", State{Services: []Service{web(rs1, rs2), fwm, v6}}, -1, `
fwmark:ipv4:7 sh
  -> 10.0.0.13:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.11:8080 masq 1
  -> 10.0.0.12:8080 masq 2` + operators + `
udp:[fd00::100]:53 rr persistent 60 mask /64
  -> [fd00::11]:53 tunnel 2
`},
		{"same state: no calls", State{Services: []Service{web(rs1, rs2), fwm, v6}}, 0, `
fwmark:ipv4:7 sh
  -> 10.0.0.13:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.11:8080 masq 1
  -> 10.0.0.12:8080 masq 2` + operators + `
udp:[fd00::100]:53 rr persistent 60 mask /64
  -> [fd00::11]:53 tunnel 2
`},
		{"weights", State{Services: []Service{web(heavier, inhibited), fwm, v6}}, 2, `
fwmark:ipv4:7 sh
  -> 10.0.0.13:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.11:8080 masq 9
  -> 10.0.0.12:8080 masq 0` + operators + `
udp:[fd00::100]:53 rr persistent 60 mask /64
  -> [fd00::11]:53 tunnel 2
`},
		{"quorum lost, fwm and persistence gone", State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "wrr", Sorry: &sry}, v6}}, 5, `
tcp:10.0.0.100:80 wrr
  -> 10.0.0.99:80 masq 1` + operators + `
udp:[fd00::100]:53 rr persistent 60 mask /64
  -> [fd00::11]:53 tunnel 2
`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := p.Apply(s.st); err != nil {
				t.Fatal(err)
			}
			calls := k.take()
			t.Logf("calls: %q", calls)
			if s.wantCalls >= 0 && len(calls) != s.wantCalls {
				t.Errorf("%d calls, want %d", len(calls), s.wantCalls)
			}
			checkDump(t, h, s.want)
		})
	}
	t.Run("remove", func(t *testing.T) {
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"DelService tcp:10.0.0.100:80", "DelService udp:[fd00::100]:53"}, k.take(), cmpSortStrings); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		checkDump(t, h, operators+"\n")
	})
}
