package ipvs

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	libipvs "github.com/moby/ipvs"
)

// handMade adds an operator's service (udp 10.0.0.1:53 → 10.0.0.2:53) to
// f, as `ipvsadm -A` would.
func handMade(t *testing.T, f *fakeKernel, port uint16) *libipvs.Service {
	t.Helper()
	s := &libipvs.Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_UDP,
		Address: net.ParseIP("10.0.0.1"), Port: port, SchedName: "rr", Netmask: 0xffffffff}
	if err := f.NewService(s); err != nil {
		t.Fatal(err)
	}
	if err := f.NewDestination(s, &libipvs.Destination{Address: net.ParseIP("10.0.0.2"), Port: port, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	f.takeCalls()
	return s
}

func newTestPlane(t *testing.T, f *fakeKernel, path string) *Plane {
	t.Helper()
	p, err := NewWithKernel(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkDump(t *testing.T, k Kernel, want string) {
	t.Helper()
	got, err := dump(k)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.TrimLeft(want, "\n"), got); diff != "" {
		t.Errorf("kernel (-want +got):\n%s", diff)
	}
}

func ownedKeys(t *testing.T, path string) []string {
	t.Helper()
	o, err := loadOwned(path)
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	return ks
}

const operators = `
udp:10.0.0.1:53 rr
  -> 10.0.0.2:53 masq 1`

// TestPlaneSequence applies a sequence of states to a fake kernel that
// also holds an operator's service, and compares the kernel after each.
func TestPlaneSequence(t *testing.T) {
	f := newFakeKernel()
	handMade(t, f, 53)
	path := filepath.Join(t.TempDir(), "ipvs.json")
	p := newTestPlane(t, f, path)
	if p.Name() != "ipvs" {
		t.Errorf("Name() = %q, want ipvs", p.Name())
	}

	web := func(bs ...Backend) Service {
		return Service{Name: "web", VIP: vip, Port: 80, Algo: "wrr", Backends: bs, Sorry: &sry,
			Persistence: 300 * time.Second, PersistenceMask: netip.MustParseAddr("255.255.255.0")}
	}
	fwm := Service{Name: "fwm", VIP: vip6, FWMark: 7, Kind: "DR", Algo: "mh",
		Backends: []Backend{{Addr: netip.MustParseAddr("fd00::11"), Weight: 1}}}
	inhibited := rs2
	inhibited.Weight = 0

	steps := []struct {
		name      string
		st        State
		wantCalls []string
		wantDump  string
	}{
		{
			name: "first apply",
			st:   State{Services: []Service{web(rs1, rs2), fwm}},
			wantCalls: []string{
				"NewService tcp:10.0.0.100:80",
				"NewDestination tcp:10.0.0.100:80 10.0.0.11:8080",
				"NewDestination tcp:10.0.0.100:80 10.0.0.12:8080",
				"NewService fwmark:ipv6:7",
				"NewDestination fwmark:ipv6:7 [fd00::11]:0",
			},
			wantDump: `
fwmark:ipv6:7 mh
  -> [fd00::11]:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.11:8080 masq 1
  -> 10.0.0.12:8080 masq 2` + operators + "\n",
		},
		{
			name:      "same state: no calls",
			st:        State{Services: []Service{fwm, web(rs2, rs1)}},
			wantCalls: nil,
			wantDump: `
fwmark:ipv6:7 mh
  -> [fd00::11]:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.11:8080 masq 1
  -> 10.0.0.12:8080 masq 2` + operators + "\n",
		},
		{
			name:      "inhibit rs2",
			st:        State{Services: []Service{web(rs1, inhibited), fwm}},
			wantCalls: []string{"UpdateDestination tcp:10.0.0.100:80 10.0.0.12:8080"},
			wantDump: `
fwmark:ipv6:7 mh
  -> [fd00::11]:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.11:8080 masq 1
  -> 10.0.0.12:8080 masq 0` + operators + "\n",
		},
		{
			name: "quorum lost: sorry server",
			st:   State{Services: []Service{web(), fwm}},
			wantCalls: []string{
				"NewDestination tcp:10.0.0.100:80 10.0.0.99:80",
				"DelDestination tcp:10.0.0.100:80 10.0.0.11:8080",
				"DelDestination tcp:10.0.0.100:80 10.0.0.12:8080",
			},
			wantDump: `
fwmark:ipv6:7 mh
  -> [fd00::11]:0 route 1
tcp:10.0.0.100:80 wrr persistent 300 mask /24
  -> 10.0.0.99:80 masq 1` + operators + "\n",
		},
		{
			name:      "fwm gone, persistence off",
			st:        State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "wrr", Sorry: &sry}}},
			wantCalls: []string{"UpdateService tcp:10.0.0.100:80", "DelService fwmark:ipv6:7"},
			wantDump: `
tcp:10.0.0.100:80 wrr
  -> 10.0.0.99:80 masq 1` + operators + "\n",
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := p.Apply(s.st); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.wantCalls, f.takeCalls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			checkDump(t, f, s.wantDump)
			var want []string
			for _, svc := range s.st.Services {
				want = append(want, spec(t, svc).Key.String())
			}
			if diff := cmp.Diff(want, ownedKeys(t, path), cmpSortStrings); diff != "" {
				t.Errorf("state file (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("remove", func(t *testing.T) {
		for range 2 {
			if err := p.Remove(); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff([]string{"DelService tcp:10.0.0.100:80"}, f.takeCalls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		checkDump(t, f, operators+"\n")
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("state file after Remove: %v, want none", err)
		}
	})
}

var cmpSortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestPlaneConflict: a desired service that equals an operator's is not
// touched, the error says so, the others are applied.
func TestPlaneConflict(t *testing.T) {
	f := newFakeKernel()
	handMade(t, f, 53)
	path := filepath.Join(t.TempDir(), "ipvs.json")
	p := newTestPlane(t, f, path)
	st := State{Services: []Service{
		{Name: "dns", VIP: netip.MustParseAddr("10.0.0.1"), Port: 53, Proto: "udp", Algo: "wlc", Backends: []Backend{rs1}},
		{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1}},
	}}
	err := p.Apply(st)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Apply = %v, want ErrConflict", err)
	}
	const wantErr = `service "dns": udp:10.0.0.1:53: virtual service exists in the kernel and was not made by vipd`
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %q lacks %q", err, wantErr)
	}
	checkDump(t, f, `
tcp:10.0.0.100:80 wlc
  -> 10.0.0.11:8080 masq 1`+operators+"\n")
	if diff := cmp.Diff([]string{"tcp:10.0.0.100:80"}, ownedKeys(t, path)); diff != "" {
		t.Errorf("state file (-want +got):\n%s", diff)
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	checkDump(t, f, operators+"\n")
}

// TestPlaneRestart: a new Plane on the same state file (vipd restarted
// after a crash) adopts what the old one made, and its Remove deletes only
// that.
func TestPlaneRestart(t *testing.T) {
	f := newFakeKernel()
	handMade(t, f, 53)
	path := filepath.Join(t.TempDir(), "ipvs.json")
	st := State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1, rs2}}}}
	if err := newTestPlane(t, f, path).Apply(st); err != nil {
		t.Fatal(err)
	}
	f.takeCalls()

	t.Run("adopt", func(t *testing.T) {
		p := newTestPlane(t, f, path)
		if err := p.Apply(st); err != nil {
			t.Fatal(err)
		}
		if calls := f.takeCalls(); len(calls) != 0 {
			t.Errorf("adopting: calls %v, want none", calls)
		}
		st.Services[0].Backends[1].Weight = 7
		if err := p.Apply(st); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"UpdateDestination tcp:10.0.0.100:80 10.0.0.12:8080"}, f.takeCalls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("cleanup at start", func(t *testing.T) {
		p := newTestPlane(t, f, path)
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"DelService tcp:10.0.0.100:80"}, f.takeCalls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		checkDump(t, f, operators+"\n")
	})
	t.Run("without the state file the service is not ours", func(t *testing.T) {
		if err := newTestPlane(t, f, path).Apply(st); err != nil {
			t.Fatal(err)
		}
		p := newTestPlane(t, f, filepath.Join(t.TempDir(), "other.json"))
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(st); !errors.Is(err, ErrConflict) {
			t.Errorf("Apply = %v, want ErrConflict", err)
		}
		f.takeCalls()
		if err := p.Apply(State{}); err != nil {
			t.Fatal(err)
		}
		if calls := f.takeCalls(); len(calls) != 0 {
			t.Errorf("calls %v, want none: another plane's service is not ours to delete", calls)
		}
	})
}

// TestPlaneRecreates: a vipd service an operator deleted by hand is made
// again; one vipd no longer wants and that is gone is forgotten.
func TestPlaneRecreates(t *testing.T) {
	f := newFakeKernel()
	path := filepath.Join(t.TempDir(), "ipvs.json")
	p := newTestPlane(t, f, path)
	web := Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1}}
	dns := Service{Name: "dns", VIP: vip, Port: 53, Proto: "udp", Backends: []Backend{rs1}}
	if err := p.Apply(State{Services: []Service{web, dns}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tcp:10.0.0.100:80", "udp:10.0.0.100:53"} {
		delete(f.svcs, k) // ipvsadm -D
	}
	f.takeCalls()
	if err := p.Apply(State{Services: []Service{web}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"NewService tcp:10.0.0.100:80", "NewDestination tcp:10.0.0.100:80 10.0.0.11:8080"}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tcp:10.0.0.100:80"}, ownedKeys(t, path)); diff != "" {
		t.Errorf("state file (-want +got):\n%s", diff)
	}
}

// TestPlaneKernelErrors: a failing command stops only its own service, the
// error says why, and ownership follows what really exists.
func TestPlaneKernelErrors(t *testing.T) {
	f := newFakeKernel()
	f.scheds = []string{"wlc", "rr"} // no ip_vs_mh
	path := filepath.Join(t.TempDir(), "ipvs.json")
	p := newTestPlane(t, f, path)
	web := Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1}}
	maglev := Service{Name: "maglev", VIP: vip, Port: 443, Algo: "mh", Backends: []Backend{rs1}}
	err := p.Apply(State{Services: []Service{maglev, web}})
	if err == nil || !strings.Contains(err.Error(), `service "maglev" (tcp:10.0.0.100:443)`) ||
		!strings.Contains(err.Error(), "is the ip_vs_mh module available?") || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Apply = %v, want the missing mh scheduler for maglev", err)
	}
	want := []string{"NewService tcp:10.0.0.100:443", "NewService tcp:10.0.0.100:80", "NewDestination tcp:10.0.0.100:80 10.0.0.11:8080"}
	if diff := cmp.Diff(want, f.takeCalls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tcp:10.0.0.100:80"}, ownedKeys(t, path)); diff != "" {
		t.Errorf("state file (-want +got):\n%s", diff)
	}

	// A delete that fails keeps the service listed, for the next try.
	f.fail["DelService tcp:10.0.0.100:80"] = syscall.EBUSY
	if err := p.Remove(); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Remove = %v, want EBUSY", err)
	}
	if diff := cmp.Diff([]string{"tcp:10.0.0.100:80"}, ownedKeys(t, path)); diff != "" {
		t.Errorf("state file (-want +got):\n%s", diff)
	}
	delete(f.fail, "DelService tcp:10.0.0.100:80")
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	checkDump(t, f, "")
}

func TestNewWithKernelBadStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipvs.json")
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWithKernel(newFakeKernel(), path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("NewWithKernel = %v, want an error naming %s", err, path)
	}
}

func TestInvalidStateChangesNothing(t *testing.T) {
	f := newFakeKernel()
	p := newTestPlane(t, f, filepath.Join(t.TempDir(), "ipvs.json"))
	err := p.Apply(State{Services: []Service{{Name: "ok", VIP: vip, Port: 80}, {Name: "bad", VIP: vip, Port: 81, Kind: "FNAT"}}})
	if err == nil || !strings.Contains(err.Error(), `service "bad": lb_kind "FNAT"`) {
		t.Errorf("Apply = %v, want the bad lb_kind", err)
	}
	if calls := f.takeCalls(); len(calls) != 0 {
		t.Errorf("calls %v, want none", calls)
	}
}

// TestNew checks New against this kernel: without IPVS it must say so.
func TestNew(t *testing.T) {
	p, err := New(filepath.Join(t.TempDir(), "ipvs.json"))
	if Available() != nil {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("New without IPVS = %v, want ErrUnavailable", err)
		}
		t.Logf("New: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("New with IPVS: %v", err)
	}
	if p.Name() != "ipvs" {
		t.Errorf("Name() = %q", p.Name())
	}
	p.Close()
}

func TestToService(t *testing.T) {
	tests := []struct {
		name     string
		s        Service
		wantSvc  libipvs.Service
		wantDest libipvs.Destination
	}{
		{
			name: "tcp NAT",
			s:    Service{Name: "a", VIP: vip, Port: 80, Algo: "rr", Backends: []Backend{rs1}},
			wantSvc: libipvs.Service{Address: net.IP(vip.AsSlice()), Protocol: syscall.IPPROTO_TCP, Port: 80,
				AddressFamily: syscall.AF_INET, SchedName: "rr", Netmask: 0xffffffff},
			wantDest: libipvs.Destination{Address: net.IP(rs1.Addr.AsSlice()), Port: 8080, Weight: 1,
				ConnectionFlags: libipvs.ConnectionFlagMasq, AddressFamily: syscall.AF_INET},
		},
		{
			name: "udp DR persistent",
			s:    Service{Name: "a", VIP: vip, Port: 53, Proto: "udp", Kind: "DR", Persistence: time.Minute, Backends: []Backend{rs2}},
			wantSvc: libipvs.Service{Address: net.IP(vip.AsSlice()), Protocol: syscall.IPPROTO_UDP, Port: 53,
				AddressFamily: syscall.AF_INET, SchedName: "wlc", Flags: 0x1, Timeout: 60, Netmask: 0xffffffff},
			wantDest: libipvs.Destination{Address: net.IP(rs2.Addr.AsSlice()), Port: 8080, Weight: 2,
				ConnectionFlags: libipvs.ConnectionFlagDirectRoute, AddressFamily: syscall.AF_INET},
		},
		{
			name: "sctp TUN IPv6",
			s: Service{Name: "a", VIP: vip6, Port: 9, Proto: "sctp", Kind: "TUN",
				Backends: []Backend{{Addr: netip.MustParseAddr("fd00::1"), Port: 9, Weight: 3}}},
			wantSvc: libipvs.Service{Address: net.IP(vip6.AsSlice()), Protocol: syscall.IPPROTO_SCTP, Port: 9,
				AddressFamily: syscall.AF_INET6, SchedName: "wlc", Netmask: 128},
			wantDest: libipvs.Destination{Address: net.ParseIP("fd00::1"), Port: 9, Weight: 3,
				ConnectionFlags: libipvs.ConnectionFlagTunnel, AddressFamily: syscall.AF_INET6},
		},
		{
			name:     "fwmark",
			s:        Service{Name: "a", VIP: vip, FWMark: 42, Proto: "udp", Backends: []Backend{rs3}},
			wantSvc:  libipvs.Service{FWMark: 42, AddressFamily: syscall.AF_INET, SchedName: "wlc", Netmask: 0xffffffff},
			wantDest: libipvs.Destination{Address: net.IP(rs3.Addr.AsSlice()), Port: 8080, Weight: 3, AddressFamily: syscall.AF_INET},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := spec(t, tc.s)
			if diff := cmp.Diff(&tc.wantSvc, toService(sp)); diff != "" {
				t.Errorf("service (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&tc.wantDest, toDest(sp.Dests[0])); diff != "" {
				t.Errorf("destination (-want +got):\n%s", diff)
			}
			back, ok := fromService(toService(sp))
			sp.Name, sp.Dests = "", nil
			if diff := cmp.Diff(sp, back, addrEq); !ok || diff != "" {
				t.Errorf("fromService(toService) ok=%v (-want +got):\n%s", ok, diff)
			}
		})
	}
	if protoTCP != syscall.IPPROTO_TCP || protoUDP != syscall.IPPROTO_UDP || protoSCTP != syscall.IPPROTO_SCTP {
		t.Error("protocol numbers differ from syscall's")
	}
	if fwdMasq != libipvs.ConnFwdMasq || fwdRoute != libipvs.ConnFwdDirectRoute || fwdTunnel != libipvs.ConnFwdTunnel || fwdMask != libipvs.ConnFwdMask {
		t.Error("forwarding methods differ from moby/ipvs's")
	}
}

// TestStateFileFirst: nothing is made when the state file cannot list it.
func TestStateFileFirst(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFakeKernel()
	p := newTestPlane(t, f, filepath.Join(t.TempDir(), "ipvs.json"))
	p.path = filepath.Join(notDir, "ipvs.json") // unwritable from now on
	err := p.Apply(State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1}}}})
	if err == nil || !strings.Contains(err.Error(), "state file") {
		t.Errorf("Apply = %v, want a state file error", err)
	}
	if calls := f.takeCalls(); len(calls) != 0 {
		t.Errorf("calls %v, want none", calls)
	}
}
