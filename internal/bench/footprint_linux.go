package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// Bins are the programs measured.
type Bins struct {
	Dir        string // holds vipd and vipctl
	Keepalived string // /usr/sbin/keepalived
	Self       string // this program, re-run for the checker children
}

// addIfaces gives h the k footprint interfaces: veth pairs whose both
// ends stay in h, each end up, the VRRP end with 192.168.K.1/24 (a VRRP
// socket needs a source address).
func addIfaces(ctx context.Context, h *lab.Host, k int) error {
	cmds := [][]string{{"ip", "link", "set", "lo", "up"}}
	for i := range k {
		n := FootprintIface(i)
		cmds = append(cmds,
			[]string{"ip", "link", "add", n, "type", "veth", "peer", "name", n + "p"},
			[]string{"ip", "link", "set", n, "up"},
			[]string{"ip", "link", "set", n + "p", "up"},
			[]string{"ip", "addr", "add", fmt.Sprintf("192.168.%d.1/24", i), "dev", n})
	}
	for _, c := range cmds {
		if _, err := h.Exec(ctx, c...); err != nil {
			return err
		}
	}
	return nil
}

// footprintVIPs counts the footprint VIPs (172.16/16) installed on h.
func footprintVIPs(ctx context.Context, h *lab.Host) int {
	out, err := h.Exec(ctx, "ip", "-4", "-o", "addr", "show")
	if err != nil {
		return -1
	}
	return strings.Count(string(out), " 172.16.")
}

// timeCmd runs argv in h's namespace and returns its wall-clock time; a
// failure (non-zero exit) is an error carrying the output.
func timeCmd(ctx context.Context, h *lab.Host, argv ...string) (time.Duration, error) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS}, argv...)...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("bench: %q: %w: %s", argv, err, lastLines(string(out), 5))
	}
	return d, nil
}

// configLoad times `-t` of the 1,000-instance footprint configuration for
// both daemons, alternating, on h (which has the interfaces keepalived
// checks for). It also checks the fastest advert_int each accepts.
func configLoad(ctx context.Context, h *lab.Host, n, reps int, bins Bins, dir string) ([]sample, []string, error) {
	conf := filepath.Join(dir, fmt.Sprintf("load-%d.conf", n))
	if err := os.WriteFile(conf, []byte(FootprintConf(n)), 0o644); err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	vipd := filepath.Join(bins.Dir, "vipd")
	var out []sample
	var base []float64
	for range reps {
		for _, c := range []struct {
			sys  string
			argv []string
		}{{SysKeepalived, []string{bins.Keepalived, "-t", "-f", conf}}, {SysVipd, []string{vipd, "-t", "-f", conf}}, {"", []string{"true"}}} {
			d, err := timeCmd(ctx, h, c.argv...)
			if err != nil {
				return nil, nil, err
			}
			ms := float64(d) / float64(time.Millisecond)
			if c.sys == "" {
				base = append(base, ms)
				continue
			}
			out = append(out, sample{scen: ScenConfigLoad, metric: MetricLoad, sys: c.sys, v: ms})
		}
	}
	notes := []string{fmt.Sprintf("config load: wall-clock time of `ip netns exec NS <daemon> -t -f load-%d.conf` (the footprint configuration, %d instances), %d runs each, alternating; `ip netns exec NS true` alone takes %s ms (median), included in both.",
		n, n, reps, format(UnitMS, Summarize(base).Median))}

	// The fastest advert_int: both take 0.01 s (10 ms, the VRRPv3 unit)
	// if -t accepts it; VRRPv2 carries whole seconds only.
	fast := filepath.Join(dir, "fast.conf")
	fc := strings.Replace(FootprintConf(1), "advert_int 1", "advert_int 0.01", 1)
	fc = strings.Replace(fc, "router_id footprint\n", "router_id footprint\n    vrrp_version 3\n", 1)
	if err := os.WriteFile(fast, []byte(fc), 0o644); err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	acc := func(argv ...string) string {
		if _, err := timeCmd(ctx, h, argv...); err != nil {
			return "rejected"
		}
		return "accepted"
	}
	notes = append(notes, fmt.Sprintf("fastest advert interval: VRRPv3 `advert_int 0.01` (10 ms, the protocol's unit) is %s by `keepalived -t` and %s by `vipd -t`; VRRPv2 carries whole seconds only (both round up). The failover rows use the fast interval given to vipbench (see settings): at 10 ms a master-down interval is ~40 ms, below this shared machine's scheduling noise, so both daemons would flap.",
		acc(bins.Keepalived, "-t", "-f", fast), acc(vipd, "-t", "-f", fast)))
	return out, notes, nil
}

// footprintRun is one daemon of the footprint measurement.
type footprintRun struct {
	sys  string
	size int
	d    *daemon
}

// runFootprint starts, for each size, vipd and keepalived with that many
// instances, each alone in a lab node, all at once (idle daemons barely
// compete), waits until every VIP is installed plus settle, and measures
// CPU over window and RSS at its end, summed over each process group.
func runFootprint(ctx context.Context, l *lab.Lab, sizes []int, settle, window time.Duration, bins Bins, dir string, logf func(string, ...any)) ([]sample, []string, error) {
	var runs []*footprintRun
	i := 0
	for _, n := range sizes {
		for _, kind := range []string{KindKeepalived, KindVipd} {
			h := l.Nodes[i]
			i++
			if err := addIfaces(ctx, h, FootprintIfaces(n)); err != nil {
				return nil, nil, err
			}
			bin, sys := bins.Keepalived, SysKeepalived
			var extra []string
			if kind == KindVipd {
				bin, sys = filepath.Join(bins.Dir, "vipd"), SysVipd
			} else {
				extra = []string{"--vrrp"}
			}
			d, err := newDaemon(kind, bin, h, filepath.Join(dir, fmt.Sprintf("fp-%s-%d", kind, n)), FootprintConf(n), extra...)
			if err != nil {
				return nil, nil, err
			}
			runs = append(runs, &footprintRun{sys: sys, size: n, d: d})
		}
	}
	var cmds []string
	for _, r := range runs {
		if err := r.d.start(); err != nil {
			return nil, nil, err
		}
		if r.size == sizes[len(sizes)-1] {
			cmds = append(cmds, r.d.command())
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, r := range runs {
		for footprintVIPs(ctx, r.d.host) < r.size {
			if r.d.proc.Exited() || time.Now().After(deadline) {
				b, _ := os.ReadFile(r.d.proc.Log)
				return nil, nil, fmt.Errorf("bench: %s with %d instances: %d VIPs installed: %s", r.sys, r.size, footprintVIPs(ctx, r.d.host), lastLines(string(b), 5))
			}
			if err := pause(ctx, 200*time.Millisecond); err != nil {
				return nil, nil, err
			}
		}
	}
	logf("footprint: every VIP installed; settling %s, then measuring %s", settle, window)
	if err := pause(ctx, settle); err != nil {
		return nil, nil, err
	}
	before := map[*footprintRun]Usage{}
	for _, r := range runs {
		u, err := GroupUsage(r.d.proc.Pid)
		if err != nil {
			return nil, nil, err
		}
		before[r] = u
	}
	t0 := time.Now()
	if err := pause(ctx, window); err != nil {
		return nil, nil, err
	}
	el := time.Since(t0)
	var out []sample
	for _, r := range runs {
		u, err := GroupUsage(r.d.proc.Pid)
		if err != nil {
			return nil, nil, err
		}
		cpu := float64(u.CPU-before[r].CPU) / float64(time.Second) * float64(time.Minute) / float64(el)
		rss := float64(u.RSS) / (1 << 20)
		logf("footprint %s %d instances: %d processes, RSS %.1f MiB, CPU %.3f s/min", r.sys, r.size, u.Pids, rss, cpu)
		out = append(out,
			sample{scen: ScenFootprint + strconv.Itoa(r.size), metric: MetricRSS, sys: r.sys, v: rss},
			sample{scen: ScenFootprint + strconv.Itoa(r.size), metric: MetricCPU, sys: r.sys, v: cpu})
		_ = r.d.stop()
	}
	return out, cmds, nil
}

// ipvsReason finds why keepalived's checker process gave up, in its log.
var ipvsReason = regexp.MustCompile(`(?m)^.*(IPVS|FATAL|[Ee]rror).*$`)

// Health-checker variants (the scen field of their samples).
const (
	CheckDaemon  = "daemon"    // vipd / keepalived --check running the virtual_server
	CheckLibrary = "inprocess" // package lb/check alone, in vipbench's check-tcp child
)

// checkersResult is what runCheckers measured.
type checkersResult struct {
	samples   []sample // scen: CheckDaemon or CheckLibrary
	kaMissing string   // why keepalived has no figure
	notes     []string
	cmds      []string
}

// runCheckers measures n TCP_CHECKs at delay_loop 1 on three nodes at
// once, each against its own listener child of n ports: `keepalived
// --check` (node b), vipd's daemon with the virtual_server on the
// nftables plane (node c), and package lb/check alone in this program's
// check-tcp child (node a) — the checkers without the daemon around them.
func runCheckers(ctx context.Context, l *lab.Lab, a, b, c *lab.Host, n int, settle, window time.Duration, bins Bins, dir string, logf func(string, ...any)) (checkersResult, error) {
	const port = 20000
	var res checkersResult
	lo := netip.MustParseAddr("127.0.0.1")
	for _, h := range []*lab.Host{a, b, c} {
		if _, err := h.Exec(ctx, "ip", "link", "set", "lo", "up"); err != nil {
			return res, err
		}
		if _, err := h.Start([]string{bins.Self, "serve-tcp", "-addr", lo.String(), "-port", strconv.Itoa(port), "-count", strconv.Itoa(n)}, nil, filepath.Join(dir, h.Name+"-serve.log")); err != nil {
			return res, err
		}
	}
	if err := pause(ctx, 500*time.Millisecond); err != nil { // listeners bound
		return res, err
	}
	childArgv := []string{bins.Self, "check-tcp", "-addr", lo.String(), "-port", strconv.Itoa(port), "-count", strconv.Itoa(n), "-delay-loop", "1s"}
	child, err := a.Start(childArgv, nil, filepath.Join(dir, "check-tcp.log"))
	if err != nil {
		return res, err
	}
	res.cmds = append(res.cmds, "ip netns exec NS "+strings.Join(childArgv, " "))
	conf := CheckerConf(n, l.Addr4(250), lo, port)
	kd, err := newDaemon(KindKeepalived, bins.Keepalived, b, filepath.Join(dir, "checkers-keepalived"), conf, "--check")
	if err != nil {
		return res, err
	}
	vconf := strings.Replace(conf, "router_id checkers\n", "router_id checkers\n    lb_dataplane nftables\n", 1)
	vd, err := newDaemon(KindVipd, filepath.Join(bins.Dir, "vipd"), c, filepath.Join(dir, "checkers-vipd"), vconf)
	if err != nil {
		return res, err
	}
	for _, d := range []*daemon{kd, vd} {
		if err := d.start(); err != nil {
			return res, err
		}
		res.cmds = append(res.cmds, d.command())
	}
	if err := pause(ctx, settle); err != nil {
		return res, err
	}
	type target struct {
		sys, scen string
		pid       int
	}
	targets := []target{{SysVipd, CheckLibrary, child.Pid}}
	if kd.proc.Exited() {
		log, _ := os.ReadFile(kd.proc.Log)
		lines := ipvsReason.FindAllString(string(log), 3)
		res.kaMissing = "`keepalived --check` cannot run here: its checker process needs IPVS and this kernel has none; it exits at start, logging: " + strings.Join(trimTimes(lines), " / ")
	} else {
		targets = append(targets, target{SysKeepalived, CheckDaemon, kd.proc.Pid})
	}
	vlog, _ := os.ReadFile(vd.proc.Log)
	switch {
	case vd.proc.Exited():
		res.notes = append(res.notes, "checkers, vipd daemon: exited at start: "+lastLines(string(vlog), 3))
	case !strings.Contains(string(vlog), "checkers="+strconv.Itoa(n)):
		res.notes = append(res.notes, "checkers, vipd daemon: its log does not say it started the checkers (this build does not run virtual_server checkers); only the in-process figure is shown")
	default:
		targets = append(targets, target{SysVipd, CheckDaemon, vd.proc.Pid})
	}
	before := map[target]Usage{}
	for _, t := range targets {
		u, err := GroupUsage(t.pid)
		if err != nil {
			return res, fmt.Errorf("bench: checkers %s %s: %w", t.sys, t.scen, err)
		}
		before[t] = u
	}
	t0 := time.Now()
	if err := pause(ctx, window); err != nil {
		return res, err
	}
	el := time.Since(t0)
	for _, t := range targets {
		u, err := GroupUsage(t.pid)
		if err != nil {
			return res, errors.Join(fmt.Errorf("bench: checkers %s %s exited", t.sys, t.scen), err)
		}
		cpu := float64(u.CPU-before[t].CPU) / float64(time.Second) * float64(time.Minute) / float64(el)
		rss := float64(u.RSS) / (1 << 20)
		logf("checkers %s (%s): CPU %.3f s/min, RSS %.1f MiB", t.sys, t.scen, cpu, rss)
		res.samples = append(res.samples, sample{scen: t.scen, metric: MetricCPU, sys: t.sys, v: cpu},
			sample{scen: t.scen, metric: MetricRSS, sys: t.sys, v: rss})
	}
	clog, _ := os.ReadFile(child.Log)
	res.notes = append(res.notes, "checkers, in-process: package lb/check's TCP_CHECK run by `vipbench check-tcp` (delay_loop 1, connect_timeout 1, 1,000 real servers = 1,000 ports of a listener child in the same namespace, whose CPU is not counted): the checkers alone, without the daemon's data-plane updates. Its last report: "+strings.TrimSpace(lastLines(string(clog), 1)))
	vlog, _ = os.ReadFile(vd.proc.Log)
	if m := planeError.FindString(string(vlog)); m != "" {
		res.notes = append(res.notes, "checkers, vipd daemon: the nftables data plane failed to apply during the run, so this figure includes its retries: "+strings.TrimSpace(m))
	}
	return res, nil
}

// planeError is vipd's log line for a data plane that failed to apply.
var planeError = regexp.MustCompile(`(?m)msg="data plane apply failed[^\n]*`)

var logTime = regexp.MustCompile(`^\w{3} \w{3} +\d+ [\d:]+ \d{4}: `)

func trimTimes(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.TrimSpace(logTime.ReplaceAllString(l, "")))
	}
	return out
}
