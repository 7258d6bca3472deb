// Package demo is `make demo`: a namespace lab with a three-member etcd
// cluster and three vipd nodes, and a narrated run of failovers and
// partitions measured by the observer.
//
// Every node runs two instances side by side: VI_1 is gated by the arbiter
// (etcd lease + fencing token), VI_PLAIN has `arbiter off` and behaves as
// keepalived does (plus vipd's kernel fence). Each fault hits both at once,
// so the table compares them in the same run.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/internal/lab"
)

// Options configure a demo run.
type Options struct {
	BinDir string // holds vipd and vipctl
	Out    io.Writer
}

// result is what one VIP went through in one scenario.
type result struct {
	unheld, splitBrain time.Duration
	holder             string
}

type row struct {
	scenario       string
	gated, plain   result
	gatedNote, how string
}

type demo struct {
	o            Options
	lab          *lab.Lab
	etcd         *lab.Etcd
	obs          *lab.Observer
	gated, plain netip.Addr
	dir          string
	procs        map[string]*lab.Proc
	socks        map[string]string
	rows         []row
}

// ErrNotRoot is returned when the demo cannot create namespaces.
var ErrNotRoot = errors.New("the demo needs root (it creates network namespaces)")

// Run brings up the lab, runs the scenarios, prints the table and removes
// everything it made.
func Run(ctx context.Context, o Options) error {
	for _, b := range []string{"vipd", "vipctl"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return fmt.Errorf("demo needs %s (run make build): %w", b, err)
		}
	}
	dir, err := os.MkdirTemp("", "vipd-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lab.Sweep("demo") // what an interrupted demo left
	l, err := lab.New(ctx, lab.Options{Name: "demo", Nodes: 3, Dir: dir})
	if err != nil {
		return err
	}
	defer l.Close()
	d := &demo{o: o, lab: l, gated: l.Addr4(200), plain: l.Addr4(201), dir: dir,
		procs: map[string]*lab.Proc{}, socks: map[string]string{}}
	d.say("lab %s: LAN %s; gateway %s runs a 3-member etcd cluster; nodes n1 n2 n3 run vipd", l.Name, l.Net4, l.GW.Addr4)
	d.say("VIP %s is gated by the arbiter (VI_1); VIP %s is plain VRRP as in keepalived (VI_PLAIN, arbiter off)", d.gated, d.plain)
	if d.etcd, err = l.StartEtcd(ctx, []*lab.Host{l.GW, l.GW, l.GW}, dir); err != nil {
		return err
	}
	d.obs = lab.NewObserver(l, []netip.Addr{d.gated, d.plain}, 5*time.Millisecond)
	if err := d.obs.Start(); err != nil {
		return err
	}
	defer d.obs.Stop()
	if err := d.scenarios(ctx); err != nil {
		return err
	}
	d.table()
	return nil
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.o.Out, "==> "+format+"\n", args...)
}

var prios = map[string]int{"n1": 150, "n2": 120, "n3": 100}

func (d *demo) conf(node string) string {
	inst := func(name string, vrid int, vip netip.Addr, extra string) string {
		return fmt.Sprintf(`
vrrp_instance %s {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int 1
    virtual_ipaddress {
        %s/24
    }
%s}
`, name, vrid, prios[node], vip, extra)
	}
	return fmt.Sprintf(`global_defs {
    router_id %s
}
arbiter {
    etcd {
        endpoints %s
        lease_ttl 5
    }
}
`, node, d.etcd.Endpoints()) + inst("VI_1", 51, d.gated, "") + inst("VI_PLAIN", 52, d.plain, "    arbiter off\n")
}

func (d *demo) start(h *lab.Host) error {
	conf := filepath.Join(d.dir, h.Name+".conf")
	if err := os.WriteFile(conf, []byte(d.conf(h.Name)), 0o644); err != nil {
		return err
	}
	d.socks[h.Name] = filepath.Join(d.dir, h.Name+".sock")
	p, err := h.Start([]string{filepath.Join(d.o.BinDir, "vipd"), "-f", conf, "--node-name", h.Name,
		"--control-socket", d.socks[h.Name]}, nil, filepath.Join(d.dir, h.Name+".log"))
	if err != nil {
		return err
	}
	d.procs[h.Name] = p
	return nil
}

// single waits until exactly one node holds vip (other than not, if set).
func (d *demo) single(ctx context.Context, vip netip.Addr, not string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if hs := d.obs.Holders(vip); len(hs) == 1 && hs[0] != not {
			return hs[0], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no single holder of %s after %s (holders %v)", vip, limit, d.obs.Holders(vip))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// scenario injects fault at the gated VIP's holder, waits window, heals,
// and records what happened to both VIPs.
func (d *demo) scenario(ctx context.Context, name string, window time.Duration, fault func(m string) error, heal func(m string) error, how string) error {
	// Both VIPs on the same node (after a restart the preempting node
	// takes them back), so one fault hits both.
	var m string
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, p := d.obs.Holders(d.gated), d.obs.Holders(d.plain)
		if len(g) == 1 && len(p) == 1 && g[0] == p[0] {
			m = g[0]
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: VIPs not settled on one node (gated %v, plain %v)", name, g, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // settled for a moment
	snap := d.obs.Snapshot()
	sb0, sbp0 := snap.VIP(d.gated).SplitBrain, snap.VIP(d.plain).SplitBrain
	at := time.Now()
	if err := fault(m); err != nil {
		return err
	}
	time.Sleep(window)
	r := d.obs.Snapshot()
	rw := row{scenario: name, how: how,
		gated: result{unheld: r.VIP(d.gated).Gap(at), splitBrain: r.VIP(d.gated).SplitBrain - sb0, holder: strings.Join(d.obs.Holders(d.gated), "+")},
		plain: result{unheld: r.VIP(d.plain).Gap(at), splitBrain: r.VIP(d.plain).SplitBrain - sbp0, holder: strings.Join(d.obs.Holders(d.plain), "+")}}
	d.rows = append(d.rows, rw)
	d.say("%s (on %s): gated VIP now on %s, unheld %s, two holders %s | plain VRRP: two holders %s",
		name, m, orNone(rw.gated.holder), ms(rw.gated.unheld), ms(rw.gated.splitBrain), ms(rw.plain.splitBrain))
	if heal != nil {
		if err := heal(m); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) scenarios(ctx context.Context) error {
	d.say("starting vipd on n1 (priority 150), n2 (120), n3 (100)")
	for _, h := range d.lab.Nodes {
		if err := d.start(h); err != nil {
			return err
		}
	}
	m, err := d.single(ctx, d.gated, "", 20*time.Second)
	if err != nil {
		return err
	}
	d.say("elected: %s holds %s, granted by etcd", m, d.gated)
	d.status(ctx, m)

	restart := func(m string) error { return d.start(d.lab.Host(m)) }
	if err := d.scenario(ctx, "planned stop (SIGTERM)", 2*time.Second,
		func(m string) error { return d.procs[m].Stop() }, restart,
		"release + priority 0; the next backup claims the freed key at once"); err != nil {
		return err
	}
	if err := d.scenario(ctx, "kill -9 of the master", 8*time.Second,
		func(m string) error { return d.procs[m].Kill() }, restart,
		"kernel fence drops the dead node's VIP; lease expires; backup claims"); err != nil {
		return err
	}
	if err := d.scenario(ctx, "master frozen (SIGSTOP 8 s)", 8*time.Second,
		func(m string) error { return d.procs[m].Pause() },
		func(m string) error { return d.procs[m].Resume() },
		"fence and lease lapse; resumed master may not refresh or claim"); err != nil {
		return err
	}
	cut := func(m string) error {
		for _, h := range d.lab.Nodes {
			if h.Name != m {
				if err := d.lab.Cut(d.lab.Host(m), h); err != nil {
					return err
				}
			}
		}
		return nil
	}
	healAll := func(string) error { return d.lab.HealAll() }
	if err := d.scenario(ctx, "master cut from its peers (6 s)", 6*time.Second, cut, healAll,
		"peers time out the master, etcd says it still holds the key"); err != nil {
		return err
	}
	if err := d.scenario(ctx, "master isolated (8 s)", 8*time.Second,
		func(m string) error { return d.lab.Isolate(d.lab.Host(m)) }, healAll,
		"isolated master steps down at its lease deadline; a peer claims after expiry"); err != nil {
		return err
	}
	return nil
}

func (d *demo) status(ctx context.Context, node string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := control.NewClient(d.socks[node]).Status(ctx)
	if err != nil {
		return
	}
	for _, in := range st.Instances {
		grant := "not gated"
		if a := in.Arbiter; a != nil {
			grant = fmt.Sprintf("arbiter granted=%v token %d", a.Granted, a.Token)
		}
		d.say("vipctl status on %s: %s %s prio %d, VIPs %s, %s", node, in.Name, in.State, in.Priority,
			strings.Join(in.VIPs, ","), grant)
	}
}

func (d *demo) table() {
	fmt.Fprintln(d.o.Out)
	tw := tabwriter.NewWriter(d.o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tARBITER: UNHELD\tARBITER: TWO HOLDERS\tPLAIN VRRP: UNHELD\tPLAIN VRRP: TWO HOLDERS")
	var total time.Duration
	for _, r := range d.rows {
		total += r.gated.splitBrain
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.scenario, ms(r.gated.unheld), ms(r.gated.splitBrain), ms(r.plain.unheld), ms(r.plain.splitBrain))
	}
	tw.Flush()
	fmt.Fprintf(d.o.Out, "\nsplit-brain with the arbiter, all scenarios: %s\n", ms(total))
	for _, r := range d.rows {
		fmt.Fprintf(d.o.Out, "  %s: %s\n", r.scenario, r.how)
	}
}

func orNone(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
