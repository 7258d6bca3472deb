package nft

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var (
	vip = netip.MustParseAddr("10.0.0.100")
	rs1 = Backend{Addr: netip.MustParseAddr("10.0.0.11"), Port: 8080, Weight: 1}
	rs2 = Backend{Addr: netip.MustParseAddr("10.0.0.12"), Port: 8080, Weight: 2}
	rs3 = Backend{Addr: netip.MustParseAddr("10.0.0.13"), Port: 8080, Weight: 3}
)

func goldenStates() []struct {
	name string
	st   State
} {
	return []struct {
		name string
		st   State
	}{
		{"rr", State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "rr", Backends: []Backend{rs1, rs2, rs3}}}}},
		{"wrr_snat", State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "wrr", SNAT: true, Backends: []Backend{rs1, rs2, rs3}}}}},
		{"sh_inhibited", State{Services: []Service{{Name: "dns", VIP: vip, Port: 53, Proto: "udp", Algo: "sh",
			Backends: []Backend{rs1, {Addr: rs2.Addr, Port: 8080, Weight: 0}, rs3}}}}},
		{"wlc_persist", State{Services: []Service{{Name: "web", VIP: vip, Port: 443, Persistence: 300 * time.Second, Backends: []Backend{rs1, rs2}}}}},
		{"sorry", State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "rr", Sorry: &Backend{Addr: rs3.Addr, Port: 80}}}}},
		{"no_backends", State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "rr"}}}},
	}
}

func TestBuildGolden(t *testing.T) {
	for _, tc := range goldenStates() {
		t.Run(tc.name, func(t *testing.T) {
			p, err := build(tc.st, DefaultTable, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := p.render()
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildCarriesLivePersistence(t *testing.T) {
	st := State{Services: []Service{{Name: "web", VIP: vip, Port: 80, Algo: "rr", Persistence: time.Minute,
		Backends: []Backend{rs1, {Addr: rs2.Addr, Port: rs2.Port, Weight: 0}}}}}
	carried := map[string][]nftables.SetElement{
		persistName("web", rs1): {{Key: []byte{192, 0, 2, 1}, Expires: 20 * time.Second}},
		persistName("web", rs2): {{Key: []byte{192, 0, 2, 2}, Expires: 20 * time.Second}}, // inhibited: dropped
	}
	p, err := build(st, DefaultTable, carried)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]nftables.SetElement{}
	for _, s := range p.sets {
		if !s.set.IsMap {
			got[s.set.Name] = s.elems
		}
	}
	want := map[string][]nftables.SetElement{
		persistName("web", rs1): {{Key: []byte{192, 0, 2, 1}, Timeout: 20 * time.Second}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("persist sets (-want +got):\n%s", diff)
	}
}

func TestSlots(t *testing.T) {
	tests := []struct {
		name string
		algo string
		bs   []Backend
		want []int
	}{
		{"rr ignores weights", "rr", []Backend{rs1, rs2, rs3}, []int{1, 1, 1}},
		{"wrr by weight", "wrr", []Backend{rs1, rs2, rs3}, []int{1, 2, 3}},
		{"wrr gcd", "wrr", []Backend{{Weight: 10}, {Weight: 20}}, []int{1, 2}},
		{"weight 0 gets nothing", "wrr", []Backend{{Weight: 0}, {Weight: 5}}, []int{0, 1}},
		{"capped", "wrr", []Backend{{Weight: 1}, {Weight: 5000}}, []int{1, 1023}},
		{"fo highest", "fo", []Backend{rs1, rs3, rs2}, []int{0, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := LookupAlgorithm(tc.algo)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, slots(tc.bs, a)); diff != "" {
				t.Errorf("slots (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Service
	}{
		{"ipv6", Service{Name: "a", VIP: netip.MustParseAddr("fd00::1"), Port: 80}},
		{"bad name", Service{Name: "a b", VIP: vip, Port: 80}},
		{"bad algo", Service{Name: "a", VIP: vip, Port: 80, Algo: "xx"}},
		{"bad proto", Service{Name: "a", VIP: vip, Port: 80, Proto: "sctp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := build(State{Services: []Service{tc.s}}, DefaultTable, nil); err == nil {
				t.Error("build succeeded, want an error")
			}
		})
	}
	if _, err := build(State{Services: []Service{{Name: "a", VIP: vip, Port: 1}, {Name: "a", VIP: vip, Port: 2}}}, DefaultTable, nil); err == nil {
		t.Error("duplicate names accepted")
	}
}

func TestIPVSAvailable(t *testing.T) {
	err := ipvsAvailable(filepath.Join(t.TempDir(), "ip_vs"))
	if err == nil || err.Error()[:len(errNoIPVS.Error())] != errNoIPVS.Error() {
		t.Errorf("ipvsAvailable(missing) = %v, want %q", err, errNoIPVS)
	}
}
