package route

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/nstest"
)

func show(t *testing.T, ns *nstest.NS, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
	return string(out)
}

// parse reads routes and rules as a keepalived.conf would give them.
func parse(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, warns, err := config.Parse("t.conf", []byte(src))
	if err != nil || len(warns) > 0 {
		t.Fatalf("config: %v %q", err, warns)
	}
	return cfg
}

// Routes and rules go in as `ip route prepend` / `ip rule add` would put
// them, and come out again; deleting what is not there is fine.
func TestAddDelete(t *testing.T) {
	ns := nstest.New(t, "route")
	nstest.Veth(t, ns, "va", ns, "vb")
	ns.AddAddr(t, "va", netip.MustParsePrefix("10.9.0.1/24"))
	show(t, ns, "route", "add", "10.40.0.0/16", "via", "10.9.0.254") // an existing route the prepend goes before
	cfg := parse(t, `
static_routes {
    10.40.0.0/16 via 10.9.0.253 dev va
    src 10.9.0.1 10.50.0.0/16 dev va scope link table 100 metric 7
    blackhole 10.60.0.0/16
    10.70.0.0/16 via 10.9.0.2 dev va onlink protocol 201 append
    10.75.0.0/16 nexthop via 10.9.0.2 dev va weight 2 nexthop via 10.9.0.3 dev va
}
static_rules {
    from 10.1.0.0/16 table 100 priority 1000
    not to 10.2.0.0/16 fwmark 0x10/0xff iif va lookup 200 pref 1001
}
`)
	m, err := New(ns.NL)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Add(cfg.StaticRoutes, cfg.StaticRules); err != nil {
		t.Fatal(err)
	}
	if err := m.Add(cfg.StaticRoutes, cfg.StaticRules); err != nil {
		t.Errorf("adding again: %v (already there must count as added)", err)
	}
	routes := show(t, ns, "route", "show", "table", "all")
	for _, want := range []string{
		"10.40.0.0/16 via 10.9.0.253 dev va",
		"10.40.0.0/16 via 10.9.0.254 dev va",
		"10.50.0.0/16 dev va table 100 scope link src 10.9.0.1 metric 7",
		"blackhole 10.60.0.0/16",
		"10.70.0.0/16 via 10.9.0.2 dev va proto 201 onlink",
		"nexthop via 10.9.0.2 dev va weight 2",
		"nexthop via 10.9.0.3 dev va weight 1",
	} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes lack %q:\n%s", want, routes)
		}
	}
	rules := show(t, ns, "rule", "show")
	for _, want := range []string{"1000:\tfrom 10.1.0.0/16 lookup 100", "1001:\tnot from all to 10.2.0.0/16 fwmark 0x10/0xff iif va lookup 200"} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules lack %q:\n%s", want, rules)
		}
	}
	if err := m.Delete(cfg.StaticRoutes, cfg.StaticRules); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(cfg.StaticRoutes, cfg.StaticRules); err != nil {
		t.Errorf("deleting again: %v (gone must be fine)", err)
	}
	routes, rules = show(t, ns, "route", "show", "table", "all"), show(t, ns, "rule", "show")
	if strings.Contains(routes, "10.9.0.253") || strings.Contains(routes, "10.50.0.0") || strings.Contains(routes, "10.60.0.0") || strings.Contains(routes, "10.70.0.0") || strings.Contains(routes, "10.75.0.0") {
		t.Errorf("routes left after Delete:\n%s", routes)
	}
	if !strings.Contains(routes, "10.40.0.0/16 via 10.9.0.254") {
		t.Errorf("the route that was there before was deleted:\n%s", routes)
	}
	if strings.Contains(rules, "lookup 100") || strings.Contains(rules, "lookup 200") {
		t.Errorf("rules left after Delete:\n%s", rules)
	}
}
