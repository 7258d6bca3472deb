package ipvs

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// spec translates s or fails the test.
func spec(t *testing.T, s Service) svcSpec {
	t.Helper()
	sp, err := translate(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func opStrings(ops []op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.String())
	}
	return out
}

func TestDiff(t *testing.T) {
	web := func(bs ...Backend) Service {
		return Service{Name: "web", VIP: vip, Port: 80, Algo: "wrr", Backends: bs, Sorry: &sry}
	}
	inhibited := rs2
	inhibited.Weight = 0
	heavier := rs1
	heavier.Weight = 10
	persistent := web(rs1)
	persistent.Persistence = 5 * time.Minute
	persistent.PersistenceMask = netip.MustParseAddr("255.255.255.0")
	fwm := Service{Name: "fwm", VIP: vip, FWMark: 7, Kind: "DR", Algo: "sh", Backends: []Backend{{Addr: rs1.Addr, Weight: 1}}}
	dns := Service{Name: "dns", VIP: vip, Port: 53, Proto: "udp", Algo: "rr", Backends: []Backend{rs3}}

	tests := []struct {
		name    string
		current []Service
		desired []Service
		want    []string
	}{
		{
			name:    "nothing changed",
			current: []Service{web(rs1, rs2), dns},
			desired: []Service{dns, web(rs2, rs1)}, // order does not matter
			want:    nil,
		},
		{
			name:    "add a service",
			desired: []Service{web(rs1, rs2)},
			want: []string{
				"new-service tcp:10.0.0.100:80 sched=wrr flags=0x0 timeout=0 mask=/32",
				"new-dest tcp:10.0.0.100:80 10.0.0.11:8080 masq weight=1",
				"new-dest tcp:10.0.0.100:80 10.0.0.12:8080 masq weight=2",
			},
		},
		{
			name:    "remove a service",
			current: []Service{web(rs1), dns},
			desired: []Service{web(rs1)},
			want:    []string{"del-service udp:10.0.0.100:53"},
		},
		{
			name:    "remove everything, in key order",
			current: []Service{web(rs1), dns, fwm},
			want:    []string{"del-service fwmark:ipv4:7", "del-service tcp:10.0.0.100:80", "del-service udp:10.0.0.100:53"},
		},
		{
			name:    "add a real server",
			current: []Service{web(rs1)},
			desired: []Service{web(rs1, rs3)},
			want:    []string{"new-dest tcp:10.0.0.100:80 10.0.0.13:8080 masq weight=3"},
		},
		{
			name:    "remove a real server",
			current: []Service{web(rs1, rs2, rs3)},
			desired: []Service{web(rs1, rs3)},
			want:    []string{"del-dest tcp:10.0.0.100:80 10.0.0.12:8080"},
		},
		{
			name:    "weight change",
			current: []Service{web(rs1, rs2)},
			desired: []Service{web(heavier, rs2)},
			want:    []string{"update-dest tcp:10.0.0.100:80 10.0.0.11:8080 masq weight=10"},
		},
		{
			name:    "inhibit_on_failure: weight 0, kept",
			current: []Service{web(rs1, rs2)},
			desired: []Service{web(rs1, inhibited)},
			want:    []string{"update-dest tcp:10.0.0.100:80 10.0.0.12:8080 masq weight=0"},
		},
		{
			name:    "quorum lost: sorry server in, then real servers out",
			current: []Service{web(rs1, inhibited)},
			desired: []Service{web()},
			want: []string{
				"new-dest tcp:10.0.0.100:80 10.0.0.99:80 masq weight=1",
				"del-dest tcp:10.0.0.100:80 10.0.0.11:8080",
				"del-dest tcp:10.0.0.100:80 10.0.0.12:8080",
			},
		},
		{
			name:    "quorum regained: real servers in, then sorry server out",
			current: []Service{web()},
			desired: []Service{web(rs1, rs2)},
			want: []string{
				"new-dest tcp:10.0.0.100:80 10.0.0.11:8080 masq weight=1",
				"new-dest tcp:10.0.0.100:80 10.0.0.12:8080 masq weight=2",
				"del-dest tcp:10.0.0.100:80 10.0.0.99:80",
			},
		},
		{
			name:    "persistence on",
			current: []Service{web(rs1)},
			desired: []Service{persistent},
			want:    []string{"update-service tcp:10.0.0.100:80 sched=wrr flags=0x1 timeout=300 mask=/24"},
		},
		{
			name:    "persistence off",
			current: []Service{persistent},
			desired: []Service{web(rs1)},
			want:    []string{"update-service tcp:10.0.0.100:80 sched=wrr flags=0x0 timeout=0 mask=/32"},
		},
		{
			name:    "granularity change",
			current: []Service{persistent},
			desired: []Service{func() Service {
				s := persistent
				s.PersistenceMask = netip.MustParseAddr("255.255.0.0")
				return s
			}()},
			want: []string{"update-service tcp:10.0.0.100:80 sched=wrr flags=0x1 timeout=300 mask=/16"},
		},
		{
			name:    "scheduler change keeps the real servers",
			current: []Service{dns},
			desired: []Service{func() Service { s := dns; s.Algo = "lc"; return s }()},
			want:    []string{"update-service udp:10.0.0.100:53 sched=lc flags=0x0 timeout=0 mask=/32"},
		},
		{
			name:    "forwarding change",
			current: []Service{web(rs1)},
			desired: []Service{func() Service { s := web(rs1); s.Kind = "DR"; return s }()},
			want:    []string{"update-dest tcp:10.0.0.100:80 10.0.0.11:8080 route weight=1"},
		},
		{
			name:    "fwmark service",
			desired: []Service{fwm},
			want: []string{
				"new-service fwmark:ipv4:7 sched=sh flags=0x0 timeout=0 mask=/32",
				"new-dest fwmark:ipv4:7 10.0.0.11:0 route weight=1",
			},
		},
		{
			name:    "fwmark service unchanged",
			current: []Service{fwm},
			desired: []Service{fwm},
		},
		{
			name:    "VIP port change is another service",
			current: []Service{dns},
			desired: []Service{func() Service { s := dns; s.Port = 5353; return s }()},
			want: []string{
				"new-service udp:10.0.0.100:5353 sched=rr flags=0x0 timeout=0 mask=/32",
				"new-dest udp:10.0.0.100:5353 10.0.0.13:8080 masq weight=3",
				"del-service udp:10.0.0.100:53",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var current, desired []svcSpec
			for _, s := range tc.current {
				sp := spec(t, s)
				sp.Name = "" // as read from the kernel
				sp.Flags |= flagHashed
				current = append(current, sp)
			}
			for _, s := range tc.desired {
				desired = append(desired, spec(t, s))
			}
			if diff := cmp.Diff(tc.want, opStrings(diff(current, desired))); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
		})
	}
}
