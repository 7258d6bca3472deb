// Package demo is `make demo`: a namespace lab with three vipd nodes and a
// narrated run of failovers, with the observer's numbers.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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

// row is one line of the final table.
type row struct {
	scenario   string
	newHolder  string
	unheld     time.Duration
	splitBrain time.Duration
	note       string
}

type demo struct {
	o     Options
	lab   *lab.Lab
	obs   *lab.Observer
	vip   netip.Addr
	dir   string
	procs map[string]*lab.Proc
	socks map[string]string
	rows  []row
}

// Run brings up the lab, runs the scenarios, prints the table and removes
// everything it made.
func Run(ctx context.Context, o Options) (err error) {
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
	lab.Sweep("demo") // a previous demo that was interrupted
	l, err := lab.New(ctx, lab.Options{Name: "demo", Nodes: 3, Dir: dir})
	if err != nil {
		return err
	}
	defer l.Close()
	d := &demo{o: o, lab: l, vip: l.Addr4(200), dir: dir, procs: map[string]*lab.Proc{}, socks: map[string]string{}}
	d.obs = lab.NewObserver(l, []netip.Addr{d.vip}, 5*time.Millisecond)
	if err := d.obs.Start(); err != nil {
		return err
	}
	defer d.obs.Stop()
	d.say("lab %s: bridge LAN %s, nodes n1 n2 n3 (%s, %s, %s), VIP %s",
		l.Name, l.Net4, l.Nodes[0].Addr4, l.Nodes[1].Addr4, l.Nodes[2].Addr4, d.vip)
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
	return fmt.Sprintf(`global_defs {
    router_id %s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        %s/24
    }
}
`, node, prios[node], d.vip)
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

// holder waits until exactly one node holds the VIP and returns it.
func (d *demo) holder(ctx context.Context, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if hs := d.obs.Holders(d.vip); len(hs) == 1 {
			return hs[0], nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no single holder of %s after %s (holders %v)", d.vip, limit, d.obs.Holders(d.vip))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitFor waits until node is the only holder.
func (d *demo) waitFor(ctx context.Context, node string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return d.obs.WaitOnlyHolder(ctx, d.vip, node)
}

// measure runs fault, waits for a new single holder other than old and
// records the VIP's unheld and split-brain time over the window.
func (d *demo) measure(ctx context.Context, name, old string, window time.Duration, fault func() error, note string) (string, error) {
	before := d.obs.Snapshot().VIP(d.vip).SplitBrain
	at := time.Now()
	if err := fault(); err != nil {
		return "", err
	}
	deadline := time.Now().Add(15 * time.Second)
	var nh string
	for time.Now().Before(deadline) {
		if hs := d.obs.Holders(d.vip); len(hs) == 1 && hs[0] != old {
			nh = hs[0]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if nh == "" {
		return "", fmt.Errorf("%s: no new holder (holders %v)", name, d.obs.Holders(d.vip))
	}
	if rest := window - time.Since(at); rest > 0 {
		time.Sleep(rest)
	}
	r := d.obs.Snapshot().VIP(d.vip)
	rw := row{scenario: name, newHolder: nh, unheld: r.Gap(at), splitBrain: r.SplitBrain - before, note: note}
	d.rows = append(d.rows, rw)
	d.say("%s: %s took over; VIP unheld %s, two holders %s", name, nh, ms(rw.unheld), ms(rw.splitBrain))
	return nh, nil
}

func (d *demo) scenarios(ctx context.Context) error {
	byName := func(n string) *lab.Host { return d.lab.Host(n) }
	d.say("starting vipd on n1 (priority 150), n2 (120), n3 (100)")
	for _, h := range d.lab.Nodes {
		if err := d.start(h); err != nil {
			return err
		}
	}
	m, err := d.holder(ctx, 10*time.Second)
	if err != nil {
		return err
	}
	d.say("elected: %s holds %s", m, d.vip)
	d.status(ctx, m)

	// 1. Planned: SIGTERM of the master.
	nh, err := d.measure(ctx, "planned stop (SIGTERM)", m, 2*time.Second, d.procs[m].Stop, "priority-0 advert")
	if err != nil {
		return err
	}
	if err := d.start(byName(m)); err != nil {
		return err
	}
	d.say("%s restarted; it preempts back (priority 150)", m)
	if err := d.waitFor(ctx, m, 15*time.Second); err != nil {
		return err
	}

	// 2. kill -9 of the master: the kernel fence removes its VIP.
	if nh, err = d.measure(ctx, "kill -9 of the master", m, 5*time.Second, d.procs[m].Kill, "kernel fence: VIP expires on the dead node"); err != nil {
		return err
	}
	d.say("the dead node's kernel dropped the VIP itself (keepalived would keep it forever)")
	if err := d.start(byName(m)); err != nil {
		return err
	}
	if err := d.waitFor(ctx, m, 15*time.Second); err != nil {
		return err
	}

	// 3. Frozen master (SIGSTOP 5 s).
	p := d.procs[m]
	if nh, err = d.measure(ctx, "master frozen 5 s (SIGSTOP)", m, 5*time.Second, p.Pause, "fence lapses; resumed master re-enters as backup"); err != nil {
		return err
	}
	if err := p.Resume(); err != nil {
		return err
	}
	if err := d.waitFor(ctx, m, 15*time.Second); err != nil {
		return err
	}
	d.say("%s resumed, found its fence lapsed, listened as backup, then preempted", m)

	// 4. Partition: the master cut from its peers for 6 s.
	cut := func() error {
		for _, h := range d.lab.Nodes {
			if h.Name != m {
				if err := d.lab.Cut(byName(m), h); err != nil {
					return err
				}
			}
		}
		return nil
	}
	before := d.obs.Snapshot().VIP(d.vip).SplitBrain
	at := time.Now()
	if err := cut(); err != nil {
		return err
	}
	time.Sleep(6 * time.Second)
	if err := d.lab.HealAll(); err != nil {
		return err
	}
	if err := d.waitFor(ctx, m, 15*time.Second); err != nil {
		return err
	}
	r := d.obs.Snapshot().VIP(d.vip)
	sb := r.SplitBrain - before
	d.rows = append(d.rows, row{scenario: "master cut from peers 6 s", newHolder: "-", unheld: r.Gap(at), splitBrain: sb,
		note: "VRRP alone cannot tell a partition from a death: the arbiter issue removes this"})
	d.say("partition healed; while cut, both sides were master for %s (plain VRRP; keepalived ~3 s)", ms(sb))
	_ = nh
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
		d.say("vipctl status on %s: %s %s prio %d, VIPs %s, last: %s", node, in.Name, in.State, in.Priority,
			strings.Join(in.VIPs, ","), in.Last.Reason)
	}
}

func (d *demo) table() {
	fmt.Fprintln(d.o.Out)
	tw := tabwriter.NewWriter(d.o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tNEW HOLDER\tVIP UNHELD\tTWO HOLDERS\tHOW")
	for _, r := range d.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.scenario, r.newHolder, ms(r.unheld), ms(r.splitBrain), r.note)
	}
	tw.Flush()
	if slices.ContainsFunc(d.rows[:len(d.rows)-1], func(r row) bool { return r.splitBrain > 0 }) {
		fmt.Fprintln(d.o.Out, "\nunexpected: two holders in a kill/stop scenario")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// ErrNotRoot is returned when the demo cannot create namespaces.
var ErrNotRoot = errors.New("the demo needs root (it creates network namespaces)")
