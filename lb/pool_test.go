package lb

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lb/check"
	"github.com/vipd/vipd/lb/dataplane"
)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func parse(t testing.TB, src string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const poolConf = `
virtual_server 10.0.0.1 80 {
    lb_algo wrr
    quorum 4
    hysteresis 1
    quorum_up /bin/qup
    quorum_down /bin/qdown
    sorry_server 10.0.0.99 8080
    real_server 10.0.0.2 80 {
        weight 3
        notify_up /bin/up2
        notify_down /bin/down2
        TCP_CHECK {
        }
    }
    real_server 10.0.0.3 80 {
        weight 2
        inhibit_on_failure
        TCP_CHECK {
        }
        MISC_CHECK {
            misc_path /bin/x
            misc_dynamic
        }
    }
}
`

func be(a string, port uint16, w int) dataplane.Backend {
	return dataplane.Backend{Addr: netip.MustParseAddr(a), Port: port, Weight: w}
}

// TestPoolKeepalivedSemantics walks one virtual server through checker
// results and compares events and the kernel table with keepalived's
// behaviour (ipwrapper.c: quorum with hysteresis, sorry server swap,
// inhibit_on_failure, misc_dynamic weights).
func TestPoolKeepalivedSemantics(t *testing.T) {
	cfg := parse(t, poolConf)
	p, err := newPool(cfg.VirtualServers[0], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	up := check.Status{Up: true, Weight: -1, Detail: "connected"}
	down := check.Status{Up: false, Weight: -1, Detail: "connect refused"}
	dyn := func(w int) check.Status { return check.Status{Up: true, Weight: w, Detail: "exit"} }
	type ev struct{ Kind, RS, Script string }
	steps := []struct {
		name       string
		member, ck int
		st         check.Status
		events     []ev
		backends   []dataplane.Backend
		sorry      *dataplane.Backend
	}{
		{"start: all up, W=5 ≥ 4", 0, 0, up, nil,
			[]dataplane.Backend{be("10.0.0.2", 80, 3), be("10.0.0.3", 80, 2)}, nil},
		{"dynamic weight 7 for .3", 1, 1, dyn(7), nil,
			[]dataplane.Backend{be("10.0.0.2", 80, 3), be("10.0.0.3", 80, 7)}, nil},
		{".2 down: W=7 stays ≥ 4-1", 0, 0, down, []ev{{EventRSDown, "10.0.0.2:80", "/bin/down2"}},
			[]dataplane.Backend{be("10.0.0.3", 80, 7)}, nil},
		{"dynamic weight 1: W=1 < 4-1, quorum lost, sorry server", 1, 1, dyn(1), []ev{{EventQuorumDown, "", "/bin/qdown"}},
			nil, &dataplane.Backend{Addr: netip.MustParseAddr("10.0.0.99"), Port: 8080, Weight: 1}},
		{".2 back: W=4 < 4+1, still no quorum (hysteresis)", 0, 0, up, []ev{{EventRSUp, "10.0.0.2:80", "/bin/up2"}},
			nil, &dataplane.Backend{Addr: netip.MustParseAddr("10.0.0.99"), Port: 8080, Weight: 1}},
		{"dynamic weight 3: W=6 ≥ 5, quorum back", 1, 1, dyn(3), []ev{{EventQuorumUp, "", "/bin/qup"}},
			[]dataplane.Backend{be("10.0.0.2", 80, 3), be("10.0.0.3", 80, 3)}, nil},
		{".3 TCP down: inhibited at weight 0", 1, 0, down, []ev{{EventRSDown, "10.0.0.3:80", ""}},
			[]dataplane.Backend{be("10.0.0.2", 80, 3), be("10.0.0.3", 80, 0)}, nil},
	}
	for _, s := range steps {
		var got []ev
		evs, _ := p.update(s.member, s.ck, s.st)
		for _, e := range evs {
			got = append(got, ev{e.kind, e.rs, e.script})
		}
		if diff := cmp.Diff(s.events, got); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", s.name, diff)
		}
		svcs := p.services(nil)
		if len(svcs) != 1 {
			t.Fatalf("%s: %d services, want 1", s.name, len(svcs))
		}
		if diff := cmp.Diff(s.backends, svcs[0].Backends, addrCmp); diff != "" {
			t.Errorf("%s: backends (-want +got):\n%s", s.name, diff)
		}
		if diff := cmp.Diff(s.sorry, svcs[0].Sorry, addrCmp); diff != "" {
			t.Errorf("%s: sorry (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestPoolServices(t *testing.T) {
	cfg := parse(t, `
virtual_server_group web {
    10.0.0.10-11 80
    fwmark 7
}
virtual_server group web {
    lb_algo sh
    lb_kind DR
    protocol UDP
    persistence_timeout 30
    persistence_granularity 255.255.255.0
    alpha
    real_server 10.0.0.2 80 {
        TCP_CHECK {
        }
    }
    real_server 10.0.0.3 80 {
    }
}
virtual_server 10.0.0.1 443 {
    snat
    real_server 10.0.0.2 8443 {
        weight 0
    }
}
`)
	dev := func(a netip.Addr) string { return "eth-" + a.String() }
	var got []dataplane.Service
	for _, vs := range cfg.VirtualServers {
		p, err := newPool(vs, cfg.VirtualServerGroups, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.services(dev)...)
	}
	mask := netip.MustParseAddr("255.255.255.0")
	// alpha: the checked server starts down; the unchecked one is alive.
	grp := []dataplane.Backend{be("10.0.0.3", 80, 1)}
	want := []dataplane.Service{
		{Name: "vs_10_0_0_10_80_udp", VIP: netip.MustParseAddr("10.0.0.10"), Port: 80, Proto: "udp", Algo: "sh", Kind: "DR",
			Persistence: 30e9, PersistenceMask: mask, Backends: grp, Dev: "eth-10.0.0.10"},
		{Name: "vs_10_0_0_11_80_udp", VIP: netip.MustParseAddr("10.0.0.11"), Port: 80, Proto: "udp", Algo: "sh", Kind: "DR",
			Persistence: 30e9, PersistenceMask: mask, Backends: grp, Dev: "eth-10.0.0.11"},
		{Name: "fwm_7", VIP: netip.IPv4Unspecified(), FWMark: 7, Proto: "udp", Algo: "sh", Kind: "DR", Persistence: 30e9, PersistenceMask: mask, Backends: grp},
		{Name: "vs_10_0_0_1_443_tcp", VIP: netip.MustParseAddr("10.0.0.1"), Port: 443, Proto: "tcp", Algo: "wlc", Kind: "NAT",
			SNAT: true, Backends: []dataplane.Backend{be("10.0.0.2", 8443, 0)}, Dev: "eth-10.0.0.1"},
	}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}

func TestPoolUnknownGroup(t *testing.T) {
	vs := &config.VirtualServer{Pos: config.Pos{File: "t.conf", Line: 3}, Group: "nope"}
	if _, err := newPool(vs, nil, nil); err == nil || err.Error() != `t.conf:3: virtual_server_group "nope" is not defined` {
		t.Errorf("err = %v", err)
	}
}

// TestPoolFwmarkFamily: a fwmark service carries its address family in
// an unspecified VIP (IPVS keys it by mark and family) and port-less real
// servers reach the plane with port 0.
func TestPoolFwmarkFamily(t *testing.T) {
	cfg := parse(t, `
virtual_server fwmark 1 {
    real_server 10.0.0.2 {
    }
}
virtual_server fwmark 2 {
    real_server 2001:db8::2 {
    }
}
virtual_server fwmark 3 {
    ip_family inet6
}
`)
	var got []dataplane.Service
	for _, vs := range cfg.VirtualServers {
		p, err := newPool(vs, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.services(nil)...)
	}
	want := []dataplane.Service{
		{Name: "fwm_1", VIP: netip.IPv4Unspecified(), FWMark: 1, Proto: "tcp", Algo: "wlc", Kind: "NAT", Backends: []dataplane.Backend{be("10.0.0.2", 0, 1)}},
		{Name: "fwm_2", VIP: netip.IPv6Unspecified(), FWMark: 2, Proto: "tcp", Algo: "wlc", Kind: "NAT", Backends: []dataplane.Backend{be("2001:db8::2", 0, 1)}},
		{Name: "fwm_3", VIP: netip.IPv6Unspecified(), FWMark: 3, Proto: "tcp", Algo: "wlc", Kind: "NAT"},
	}
	if diff := cmp.Diff(want, got, addrCmp); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}
