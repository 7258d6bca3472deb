package ipvs

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// addrEq lets cmp compare netip.Addr (unexported fields).
var addrEq = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

var (
	vip  = netip.MustParseAddr("10.0.0.100")
	vip6 = netip.MustParseAddr("fd00::100")
	rs1  = Backend{Addr: netip.MustParseAddr("10.0.0.11"), Port: 8080, Weight: 1}
	rs2  = Backend{Addr: netip.MustParseAddr("10.0.0.12"), Port: 8080, Weight: 2}
	rs3  = Backend{Addr: netip.MustParseAddr("10.0.0.13"), Port: 8080, Weight: 3}
	sry  = Backend{Addr: netip.MustParseAddr("10.0.0.99"), Port: 80, Weight: 1}
)

func tcpKey(a netip.Addr, port uint16) svcKey {
	return svcKey{V6: a.Is6(), Proto: protoTCP, Addr: a, Port: port}
}

func dst(b Backend, fwd uint32) destSpec {
	return destSpec{Addr: b.Addr, Port: b.Port, Fwd: fwd, Weight: b.Weight}
}

// mask4 is the kernel netmask of an IPv4 mask (host-order read of its bytes).
func mask4(s string) uint32 {
	a := netip.MustParseAddr(s).As4()
	return binary.NativeEndian.Uint32(a[:])
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name string
		s    Service
		want svcSpec
	}{
		{
			name: "defaults: tcp, wlc, NAT, /32",
			s:    Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1, rs2}},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff,
				Dests: []destSpec{dst(rs1, fwdMasq), dst(rs2, fwdMasq)}},
		},
		{
			name: "udp rr DR",
			s:    Service{Name: "dns", VIP: vip, Port: 53, Proto: "udp", Algo: "rr", Kind: "DR", Backends: []Backend{rs1}},
			want: svcSpec{Name: "dns", Key: svcKey{Proto: protoUDP, Addr: vip, Port: 53}, Sched: "rr", Netmask: 0xffffffff,
				Dests: []destSpec{dst(rs1, fwdRoute)}},
		},
		{
			name: "sctp sh TUN",
			s:    Service{Name: "sig", VIP: vip, Port: 2905, Proto: "sctp", Algo: "sh", Kind: "TUN", Backends: []Backend{rs3}},
			want: svcSpec{Name: "sig", Key: svcKey{Proto: protoSCTP, Addr: vip, Port: 2905}, Sched: "sh", Netmask: 0xffffffff,
				Dests: []destSpec{dst(rs3, fwdTunnel)}},
		},
		{
			name: "persistence 300s, granularity /24",
			s: Service{Name: "web", VIP: vip, Port: 443, Algo: "wrr", Persistence: 300 * time.Second,
				PersistenceMask: netip.MustParseAddr("255.255.255.0"), Backends: []Backend{rs1}},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 443), Sched: "wrr", Flags: flagPersistent, Timeout: 300,
				Netmask: mask4("255.255.255.0"), Dests: []destSpec{dst(rs1, fwdMasq)}},
		},
		{
			name: "persistence rounds up to whole seconds",
			s:    Service{Name: "web", VIP: vip, Port: 443, Persistence: 1500 * time.Millisecond},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 443), Sched: "wlc", Flags: flagPersistent, Timeout: 2, Netmask: 0xffffffff},
		},
		{
			name: "granularity without persistence is ignored, as keepalived",
			s:    Service{Name: "web", VIP: vip, Port: 80, PersistenceMask: netip.MustParseAddr("255.255.0.0")},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff},
		},
		{
			name: "IPv6 default /128",
			s: Service{Name: "web6", VIP: vip6, Port: 80, Persistence: time.Minute,
				Backends: []Backend{{Addr: netip.MustParseAddr("fd00::11"), Port: 80, Weight: 5}}},
			want: svcSpec{Name: "web6", Key: tcpKey(vip6, 80), Sched: "wlc", Flags: flagPersistent, Timeout: 60, Netmask: 128,
				Dests: []destSpec{{Addr: netip.MustParseAddr("fd00::11"), Port: 80, Weight: 5}}},
		},
		{
			name: "IPv6 granularity /64 is a prefix length",
			s: Service{Name: "web6", VIP: vip6, Port: 80, Persistence: time.Minute,
				PersistenceMask: netip.MustParseAddr("ffff:ffff:ffff:ffff::")},
			want: svcSpec{Name: "web6", Key: tcpKey(vip6, 80), Sched: "wlc", Flags: flagPersistent, Timeout: 60, Netmask: 64},
		},
		{
			name: "fwmark: no address, protocol or port in the key",
			s:    Service{Name: "fwm", VIP: vip, FWMark: 7, Kind: "DR", Backends: []Backend{{Addr: rs1.Addr, Weight: 1}}},
			want: svcSpec{Name: "fwm", Key: svcKey{FWMark: 7}, Sched: "wlc", Netmask: 0xffffffff,
				Dests: []destSpec{{Addr: rs1.Addr, Fwd: fwdRoute, Weight: 1}}},
		},
		{
			name: "fwmark IPv6",
			s:    Service{Name: "fwm6", VIP: vip6, FWMark: 7},
			want: svcSpec{Name: "fwm6", Key: svcKey{V6: true, FWMark: 7}, Sched: "wlc", Netmask: 128},
		},
		{
			name: "inhibited real server keeps weight 0",
			s:    Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1, {Addr: rs2.Addr, Port: rs2.Port}}},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff,
				Dests: []destSpec{dst(rs1, fwdMasq), {Addr: rs2.Addr, Port: rs2.Port}}},
		},
		{
			name: "sorry server unused while there are real servers",
			s:    Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1}, Sorry: &sry},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff, Dests: []destSpec{dst(rs1, fwdMasq)}},
		},
		{
			name: "sorry server alone when Backends is empty, same forwarding",
			s:    Service{Name: "web", VIP: vip, Port: 80, Kind: "DR", Sorry: &sry},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff, Dests: []destSpec{dst(sry, fwdRoute)}},
		},
		{
			name: "sorry_server_inhibit: weight 0 as given",
			s:    Service{Name: "web", VIP: vip, Port: 80, Sorry: &Backend{Addr: sry.Addr, Port: 80}},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff, Dests: []destSpec{{Addr: sry.Addr, Port: 80}}},
		},
		{
			name: "v4-mapped addresses are IPv4",
			s: Service{Name: "web", VIP: netip.MustParseAddr("::ffff:10.0.0.100"), Port: 80,
				Backends: []Backend{{Addr: netip.MustParseAddr("::ffff:10.0.0.11"), Port: 80, Weight: 1}}},
			want: svcSpec{Name: "web", Key: tcpKey(vip, 80), Sched: "wlc", Netmask: 0xffffffff,
				Dests: []destSpec{{Addr: rs1.Addr, Port: 80, Weight: 1}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := translate(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, addrEq); diff != "" {
				t.Errorf("translate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTranslateSchedulers(t *testing.T) {
	for _, algo := range []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"} {
		t.Run(algo, func(t *testing.T) {
			got, err := translate(Service{Name: "a", VIP: vip, Port: 80, Algo: algo})
			if err != nil {
				t.Fatal(err)
			}
			if got.Sched != algo {
				t.Errorf("Sched = %q, want %q", got.Sched, algo)
			}
		})
	}
}

func TestTranslateErrors(t *testing.T) {
	ok := Service{Name: "web", VIP: vip, Port: 80}
	with := func(f func(*Service)) Service { s := ok; f(&s); return s }
	tests := []struct {
		name string
		s    Service
		want string // in the error, after `service "NAME": `
	}{
		{"bad algo", with(func(s *Service) { s.Algo = "random" }), `lb_algo "random" is not an IPVS scheduler`},
		{"bad kind", with(func(s *Service) { s.Kind = "FNAT" }), `lb_kind "FNAT": want NAT, DR or TUN`},
		{"port 0 without fwmark", with(func(s *Service) { s.Port = 0 }), "port 0 without fwmark"},
		{"fwmark with a port", with(func(s *Service) { s.FWMark = 3 }), "fwmark 3 with port 80"},
		{"bad proto", with(func(s *Service) { s.Proto = "icmp" }), `protocol "icmp"`},
		{"no VIP", with(func(s *Service) { s.VIP = netip.Addr{} }), "no VIP"},
		{"bad name", with(func(s *Service) { s.Name = "a b" }), "name has ' '"},
		{"mixed families: v6 real server", with(func(s *Service) {
			s.Backends = []Backend{{Addr: netip.MustParseAddr("fd00::1"), Port: 80, Weight: 1}}
		}), "real server fd00::1: mixed address families (the VIP is IPv4)"},
		{"mixed families: v4 sorry server", with(func(s *Service) {
			s.VIP = vip6
			s.Sorry = &sry
		}), "sorry server 10.0.0.99: mixed address families (the VIP is IPv6)"},
		{"mixed families: mask", with(func(s *Service) {
			s.Persistence = time.Minute
			s.PersistenceMask = netip.MustParseAddr("ffff::")
		}), "persistence_granularity ffff::: mixed address families"},
		{"mask not contiguous", with(func(s *Service) {
			s.Persistence = time.Minute
			s.PersistenceMask = netip.MustParseAddr("255.0.255.0")
		}), "want a contiguous mask"},
		{"weight too big", with(func(s *Service) { s.Backends = []Backend{{Addr: rs1.Addr, Port: 80, Weight: 70000}} }), "weight 70000 outside 0-65535"},
		{"negative weight", with(func(s *Service) { s.Backends = []Backend{{Addr: rs1.Addr, Port: 80, Weight: -1}} }), "weight -1"},
		{"duplicate real server", with(func(s *Service) { s.Backends = []Backend{rs1, rs1} }), "real server 10.0.0.11:8080 listed twice"},
		{"persistence too long", with(func(s *Service) { s.Persistence = 32 * 24 * time.Hour }), "persistence_timeout 768h0m0s"},
		{"SNAT", with(func(s *Service) { s.SNAT = true }), "SNAT is not supported by the ipvs data plane"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := translate(tc.s)
			if err == nil {
				t.Fatal("translate succeeded, want an error")
			}
			prefix := `service "` + tc.s.Name + `": `
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q then %q", err, prefix, tc.want)
			}
		})
	}
}

func TestTranslateState(t *testing.T) {
	tests := []struct {
		name string
		st   State
		want string // "" = no error
	}{
		{"ok", State{Services: []Service{{Name: "a", VIP: vip, Port: 80}, {Name: "b", VIP: vip, Port: 81}}}, ""},
		{"same port, other protocol", State{Services: []Service{{Name: "a", VIP: vip, Port: 53}, {Name: "b", VIP: vip, Port: 53, Proto: "udp"}}}, ""},
		{"duplicate name", State{Services: []Service{{Name: "a", VIP: vip, Port: 80}, {Name: "a", VIP: vip, Port: 81}}}, `service "a": duplicate name`},
		{"duplicate key", State{Services: []Service{{Name: "a", VIP: vip, Port: 80}, {Name: "b", VIP: vip, Port: 80}}},
			`service "b": tcp:10.0.0.100:80 is already service "a"`},
		{"duplicate fwmark", State{Services: []Service{{Name: "a", VIP: vip, FWMark: 1}, {Name: "b", VIP: rs1.Addr, FWMark: 1}}},
			`service "b": fwmark:ipv4:1 is already service "a"`},
		{"every invalid service is reported", State{Services: []Service{{Name: "a", VIP: vip}, {Name: "b", VIP: vip, Port: 1, Algo: "x"}}},
			"service \"a\": port 0 without fwmark: a virtual service needs a port or a fwmark\nservice \"b\": lb_algo \"x\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := translateState(tc.st)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		k    svcKey
		want string
	}{
		{tcpKey(vip, 80), "tcp:10.0.0.100:80"},
		{svcKey{V6: true, Proto: protoUDP, Addr: vip6, Port: 53}, "udp:[fd00::100]:53"},
		{svcKey{Proto: protoSCTP, Addr: vip, Port: 1}, "sctp:10.0.0.100:1"},
		{svcKey{FWMark: 7}, "fwmark:ipv4:7"},
		{svcKey{V6: true, FWMark: 7}, "fwmark:ipv6:7"},
	}
	for _, tc := range tests {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.k, got, tc.want)
		}
	}
}

func TestAvailable(t *testing.T) {
	if err := available(t.TempDir()); err != nil {
		t.Errorf("available(existing) = %v, want nil", err)
	}
	err := available(t.TempDir() + "/ip_vs")
	if err != ErrUnavailable {
		t.Errorf("available(missing) = %v, want ErrUnavailable", err)
	}
	const want = "IPVS is not available: /proc/net/ip_vs is missing; load the ip_vs module (modprobe ip_vs) or use lb_dataplane nftables"
	if ErrUnavailable.Error() != want {
		t.Errorf("ErrUnavailable = %q, want %q", ErrUnavailable, want)
	}
}
