package nft

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

var (
	drMAC        = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x64}
	directorAddr = netip.MustParseAddr("10.0.0.1")
	rsMACs       = map[netip.Addr]net.HardwareAddr{
		rs1.Addr: {0x02, 0, 0, 0, 0, 0x0b},
		rs2.Addr: {0x02, 0, 0, 0, 0, 0x0c},
		rs3.Addr: {0x02, 0, 0, 0, 0, 0x0d},
	}
)

// fakeEnv is a director whose eth0 (ifindex 2) knows every real server but
// those in unknown.
func fakeEnv(unknown ...netip.Addr) drEnv {
	env := drEnv{links: map[string]drLink{"eth0": {index: 2, mac: drMAC}}, macs: map[neighKey]net.HardwareAddr{},
		local: map[netip.Addr]bool{directorAddr: true}}
	for a, mac := range rsMACs {
		if !slices.Contains(unknown, a) {
			env.macs[neighKey{"eth0", a}] = mac
		}
	}
	return env
}

func dr(s Service) Service {
	s.Kind, s.Dev = "DR", "eth0"
	return s
}

// drStates are DR states with the env they are built with and what the
// build must report missing (a substring per entry, "" = nothing).
func drStates() []struct {
	name    string
	st      State
	unknown []netip.Addr
	missing []string
} {
	return []struct {
		name    string
		st      State
		unknown []netip.Addr
		missing []string
	}{
		{name: "dr_wlc", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1, rs2, rs3}})}}},
		{name: "dr_wrr_inhibited", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80, Algo: "wrr",
			Backends: []Backend{rs1, {Addr: rs2.Addr, Port: 80, Weight: 0}, rs3}})}}},
		{name: "dr_sh_udp", st: State{Services: []Service{dr(Service{Name: "dns", VIP: vip, Port: 53, Proto: "udp", Algo: "sh", Backends: []Backend{rs1, rs2}})}}},
		{name: "dr_persist", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 443, Algo: "rr",
			Persistence: 300 * time.Second, Backends: []Backend{rs1, rs2}})}}},
		{name: "dr_granularity_localnode", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80,
			Persistence: time.Minute, PersistenceMask: netip.MustParseAddr("255.255.255.0"),
			Backends: []Backend{rs1, {Addr: directorAddr, Port: 80, Weight: 1}}})}}},
		{name: "dr_fo_unresolved", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80, Algo: "fo", Backends: []Backend{rs1, rs2, rs3}})}},
			unknown: []netip.Addr{rs3.Addr}, missing: []string{`service "web": real server 10.0.0.13 on eth0: no MAC address`}},
		{name: "dr_sorry", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80, Sorry: &Backend{Addr: rs3.Addr, Port: 80, Weight: 1}})}}},
		{name: "dr_no_backends", st: State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80})}}},
		{name: "dr_and_nat", st: State{Services: []Service{
			{Name: "nat", VIP: vip, Port: 8080, Algo: "rr", Backends: []Backend{rs1}},
			dr(Service{Name: "web", VIP: vip, Port: 80, Algo: "rr", Backends: []Backend{rs1, rs2}}),
			{Name: "gone", VIP: vip, Port: 81, Kind: "DR", Dev: "eth9", Backends: []Backend{rs1}},
		}}, missing: []string{`service "gone": device "eth9" not found`}},
	}
}

func TestBuildDRGolden(t *testing.T) {
	for _, tc := range drStates() {
		t.Run(tc.name, func(t *testing.T) {
			nat, err := build(tc.st, DefaultTable, nil)
			if err != nil {
				t.Fatal(err)
			}
			prog, missing := buildDR(tc.st, DefaultTable+DRSuffix, fakeEnv(tc.unknown...))
			var gotMissing []string
			if missing != nil {
				gotMissing = strings.Split(missing.Error(), "\n")
			}
			if len(gotMissing) != len(tc.missing) {
				t.Errorf("missing = %q, want %q", gotMissing, tc.missing)
			}
			for i := range min(len(gotMissing), len(tc.missing)) {
				if !strings.Contains(gotMissing[i], tc.missing[i]) {
					t.Errorf("missing[%d] = %q, want it to contain %q", i, gotMissing[i], tc.missing[i])
				}
			}
			got := nat.render() + prog.render()
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

func TestBuildDRNone(t *testing.T) {
	st := State{Services: []Service{{Name: "nat", VIP: vip, Port: 80, Backends: []Backend{rs1}}}}
	if prog, missing := buildDR(st, "t", fakeEnv()); prog != nil || missing != nil {
		t.Errorf("buildDR(NAT only) = %v, %v; want nil, nil", prog, missing)
	}
}

func TestValidateDR(t *testing.T) {
	tests := []struct {
		name string
		s    Service
		ok   bool
	}{
		{"dr", Service{Name: "a", VIP: vip, Port: 80, Kind: "DR", Dev: "eth0"}, true},
		{"no dev", Service{Name: "a", VIP: vip, Port: 80, Kind: "DR"}, false},
		{"long dev", Service{Name: "a", VIP: vip, Port: 80, Kind: "DR", Dev: "eth0123456789012"}, false},
		{"snat", Service{Name: "a", VIP: vip, Port: 80, Kind: "DR", Dev: "eth0", SNAT: true}, false},
		{"granularity", Service{Name: "a", VIP: vip, Port: 80, Kind: "DR", Dev: "eth0", PersistenceMask: netip.MustParseAddr("255.255.0.0")}, true},
		{"granularity nat", Service{Name: "a", VIP: vip, Port: 80, PersistenceMask: netip.MustParseAddr("255.255.0.0")}, false},
		{"tun", Service{Name: "a", VIP: vip, Port: 80, Kind: "TUN", Dev: "eth0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validateState(State{Services: []Service{tc.s}})
			if (err == nil) != tc.ok {
				t.Errorf("validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// drNS gives the plane's namespace an Ethernet device eth0 (10.0.0.1/24,
// MAC drMAC) whose veth peer sits in a second namespace as 10.0.0.14, so
// that only 10.0.0.14 answers ARP there. It returns the peer's MAC.
func drNS(t *testing.T, p *Plane) net.HardwareAddr {
	t.Helper()
	peerNS := fmt.Sprintf("vipdnftp-%d-%d", os.Getpid(), nsCounter.Add(1))
	run := func(argv ...string) {
		t.Helper()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v: %s", argv, err, out)
		}
	}
	run("ip", "netns", "add", peerNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", peerNS).Run() })
	run("ip", "-n", p.netns, "link", "add", "eth0", "address", drMAC.String(), "type", "veth", "peer", "name", "eth0", "netns", peerNS)
	run("ip", "-n", p.netns, "addr", "add", directorAddr.String()+"/24", "dev", "eth0")
	run("ip", "-n", p.netns, "link", "set", "eth0", "up")
	run("ip", "-n", peerNS, "addr", "add", "10.0.0.14/24", "dev", "eth0")
	run("ip", "-n", peerNS, "link", "set", "eth0", "up")
	for a, mac := range rsMACs {
		run("ip", "-n", p.netns, "neigh", "replace", a.String(), "lladdr", mac.String(), "dev", "eth0", "nud", "permanent")
	}
	out, err := exec.Command("ip", "-n", peerNS, "-br", "link", "show", "eth0").Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	mac, err := net.ParseMAC(f[len(f)-2])
	if err != nil {
		t.Fatalf("peer MAC in %q: %v", out, err)
	}
	return mac
}

// TestApplyDRKernel applies every DR golden state in a namespace and
// checks that nft reads back the rules as written by hand: the library
// marshals "dup to eth0", the Ethernet rewrites and the concatenated hash
// as nft does. nft lists its own dependencies (meta iiftype, meta
// protocol, meta l4proto) implicitly, and the hash input raw (@nh,96,32 is
// ip saddr) since the protocol match is in another chain.
func TestApplyDRKernel(t *testing.T) {
	p := newNS(t)
	drNS(t, p)
	for _, tc := range drStates() {
		if tc.unknown != nil {
			continue // the namespace knows every MAC
		}
		t.Run(tc.name, func(t *testing.T) {
			for range 2 {
				err := p.Apply(tc.st)
				if tc.missing == nil && err != nil || tc.missing != nil && !errors.Is(err, ErrUnresolved) {
					t.Fatalf("Apply: %v", err)
				}
			}
			dump, err := p.Dump()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", dump)
			want := []string{"table ip vipd_lb", "table netdev vipd_lb_dr", `type filter hook ingress device "eth0" priority filter; policy accept;`}
			switch tc.name {
			case "dr_no_backends":
				want = append(want, "chain web {\n\t\tdrop\n\t}")
			case "dr_sorry":
				want = append(want, `ether saddr set 02:00:00:00:00:64 ether daddr set 02:00:00:00:00:0d dup to "eth0" drop`)
			default:
				want = append(want, `ether saddr set 02:00:00:00:00:64 ether daddr set 02:00:00:00:00:0b dup to "eth0" drop`)
			}
			switch tc.name {
			case "dr_wlc":
				want = append(want, "meta pkttype host ip daddr 10.0.0.100 tcp dport 80 jump web",
					"jhash @nh,96,32 . th sport mod 6 seed 0x76697064 vmap @web_slots")
			case "dr_granularity_localnode":
				want = append(want, "jhash @nh,96,32 & 0xffffff00 mod 2 seed 0x76697064 vmap @web_slots", "chain web_rs1 {\n\t\taccept\n\t}")
			case "dr_sh_udp":
				want = append(want, "udp dport 53 jump dns", "jhash @nh,96,32 mod 3 seed 0x76697064 vmap @dns_slots")
			}
			for _, w := range want {
				if !strings.Contains(dump, w) {
					t.Errorf("dump lacks %q", w)
				}
			}
		})
	}
	gone := func(t *testing.T, family nftables.TableFamily, name string) {
		t.Helper()
		if _, err := p.conn.ListTableOfFamily(name, family); err == nil {
			t.Errorf("table %s still there", name)
		}
	}
	if err := p.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	gone(t, nftables.TableFamilyIPv4, "vipd_lb")
	gone(t, nftables.TableFamilyNetdev, "vipd_lb_dr")

	// Without DR services the netdev table goes.
	if err := p.Apply(drStates()[0].st); err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(State{Services: []Service{{Name: "nat", VIP: vip, Port: 80, Backends: []Backend{rs1}}}}); err != nil {
		t.Fatal(err)
	}
	if dump, err := p.Dump(); err != nil || strings.Contains(dump, "netdev") {
		t.Errorf("after a NAT-only Apply: %v\n%s", err, dump)
	}
	gone(t, nftables.TableFamilyNetdev, "vipd_lb_dr")
	for range 2 {
		if err := p.Remove(); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	}
	if out, err := p.Dump(); err == nil {
		t.Errorf("tables still there after Remove:\n%s", out)
	}
}

// TestResolve checks the neighbour lookups: a PERMANENT entry is used, an
// unknown address that answers ARP is resolved within the wait, and one
// that does not answer is left out after it.
func TestResolve(t *testing.T) {
	p := newNS(t)
	peerMAC := drNS(t, p)
	live := Backend{Addr: netip.MustParseAddr("10.0.0.14"), Port: 80, Weight: 1}
	dead := Backend{Addr: netip.MustParseAddr("10.0.0.15"), Port: 80, Weight: 1}
	st := State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1, live, dead}})}}
	n, err := p.openNetlink()
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	h := n.h
	start := time.Now()
	one, err := n.resolve(State{Services: []Service{dr(Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{live}})}}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resolving one live real server took %v", time.Since(start))
	if mac := one.macs[neighKey{"eth0", live.Addr}]; mac.String() != peerMAC.String() {
		t.Errorf("MAC of %v = %v, want %v", live.Addr, mac, peerMAC)
	}
	start = time.Now()
	env, err := n.resolve(st, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resolving with one dead real server took %v", time.Since(start))
	got := map[netip.Addr]string{}
	for k, mac := range env.macs {
		got[k.addr] = mac.String()
	}
	want := map[netip.Addr]string{rs1.Addr: rsMACs[rs1.Addr].String(), live.Addr: peerMAC.String()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MACs (-want +got):\n%s", diff)
	}
	if l := env.links["eth0"]; l.mac.String() != drMAC.String() || l.index == 0 {
		t.Errorf("eth0 = %+v, want MAC %v", l, drMAC)
	}

	// Apply programs the others and names the one left out.
	err = p.Apply(st)
	if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "10.0.0.15") || strings.Contains(err.Error(), "10.0.0.14") {
		t.Errorf("Apply = %v, want ErrUnresolved naming 10.0.0.15 only", err)
	}
	dump, err := p.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump, "ether daddr set "+peerMAC.String()) {
		t.Errorf("dump lacks the resolved real server %v:\n%s", peerMAC, dump)
	}

	// A changed MAC is picked up by the next Apply.
	moved := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	if err := h.NeighSet(&netlink.Neigh{LinkIndex: env.links["eth0"].index, IP: rs1.Addr.AsSlice(),
		HardwareAddr: moved, State: netlink.NUD_PERMANENT}); err != nil {
		t.Fatal(err)
	}
	st.Services[0].Backends = []Backend{rs1, live}
	if err := p.Apply(st); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if dump, err = p.Dump(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump, "ether daddr set "+moved.String()) || strings.Contains(dump, rsMACs[rs1.Addr].String()) {
		t.Errorf("dump does not have the new MAC %v of %v instead of the old:\n%s", moved, rs1.Addr, dump)
	}
}
