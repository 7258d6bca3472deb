package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoutesAndRules(t *testing.T) {
	src := `static_routes {
    src 10.0.0.1 to 10.1.0.0/16 via 10.0.0.254 dev eth0 table 100 metric 5 scope global protocol static onlink mtu 1400 append
    blackhole 10.2.0.0/16
    default gw 2001:db8::1
}
static_rules {
    not from 10.0.0.0/8 to all fwmark 0x10/0xff iif eth0 oif eth1 tos 4 table 100 pref 1000
    to 2001:db8::/32 goto 2000
}
`
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings %q", warns)
	}
	a, p := netip.MustParseAddr, netip.MustParsePrefix
	wantRoutes := []Route{
		{Pos: Pos{"t.conf", 2}, Dst: p("10.1.0.0/16"), Src: a("10.0.0.1"), Via: a("10.0.0.254"), Dev: "eth0", Table: 100, Metric: 5,
			Scope: "global", Proto: 4, OnLink: true, MTU: 1400, Mode: "append"},
		{Pos: Pos{"t.conf", 3}, Type: "blackhole", Dst: p("10.2.0.0/16"), Mode: "prepend"},
		{Pos: Pos{"t.conf", 4}, Dst: p("::/0"), Via: a("2001:db8::1"), Mode: "prepend"},
	}
	if diff := cmp.Diff(wantRoutes, cfg.StaticRoutes, cmpOpts); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	wantRules := []Rule{
		{Pos: Pos{"t.conf", 7}, Family: 4, From: p("10.0.0.0/8"), Not: true, Table: 100, Priority: 1000, IIF: "eth0", OIF: "eth1",
			Mark: 0x10, Mask: 0xff, MarkSet: true, TOS: 4},
		{Pos: Pos{"t.conf", 8}, Family: 6, To: p("2001:db8::/32"), Goto: 2000, Priority: -1},
	}
	if diff := cmp.Diff(wantRules, cfg.StaticRules, cmpOpts); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	mp, warns := mustParse(t, "static_routes {\n 10.3.0.0/16 nexthop via 10.0.0.1 dev eth0 weight 2 nexthop via 10.0.0.2 onlink\n 10.4.0.0/16 via 10.0.0.1 or 10.0.0.2\n}\n")
	wantMP := []Route{
		{Pos: Pos{"t.conf", 2}, Dst: p("10.3.0.0/16"), Mode: "prepend",
			Nexthops: []Nexthop{{Via: a("10.0.0.1"), Dev: "eth0", Weight: 2}, {Via: a("10.0.0.2"), Weight: 1, OnLink: true}}},
		{Pos: Pos{"t.conf", 3}, Dst: p("10.4.0.0/16"), Mode: "prepend",
			Nexthops: []Nexthop{{Via: a("10.0.0.1"), Weight: 1}, {Via: a("10.0.0.2"), Weight: 1}}},
	}
	if diff := cmp.Diff(wantMP, mp.StaticRoutes, cmpOpts); diff != "" {
		t.Errorf("multipath routes (-want +got):\n%s", diff)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], `"or" for routes is deprecated`) {
		t.Errorf("warnings %q, want the deprecation of or", warns)
	}
	for _, bad := range []struct{ src, err string }{
		{"static_routes {\n 10.1.0.0/16 nexthop via 10.0.0.1 weight 0\n}\n", `nexthop weight must be 1..256`},
		{"static_routes {\n 10.1.0.0/16 or 10.0.0.2\n}\n", `"or" needs one address after a via`},
		{"static_routes {\n 10.1.0.0/16 via 10.0.0.1 realms 3\n}\n", `"realms" is not supported by vipd`},
		{"static_routes {\n 10.1.0.0/16 via 2001:db8::1\n}\n", "different families"},
		{"static_rules {\n from 10.0.0.0/8\n}\n", "a rule needs a table"},
		{"static_rules {\n from 10.0.0.0/8 table 1 uidrange 1-2\n}\n", `"uidrange" is not supported by vipd`},
		{instanceSrc("    virtual_routes {\n        10.1.0.0/16 track_group G\n    }\n"), `"track_group" is not supported by vipd`},
	} {
		if _, _, err := Parse("t.conf", []byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%q: error %v, want %q", bad.src, err, bad.err)
		}
	}
}
