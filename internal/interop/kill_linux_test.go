package interop

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// killWindow is how long the VIP is watched after a kill -9.
const killWindow = 6 * time.Second

// TestKill9Comparison runs every master/backup pairing of vipd and
// keepalived in one run with the same VRRPv2 PASS configuration (advert_int
// 1, priorities 150 and 100), and logs side by side:
//   - the SIGTERM handover gap (VIP unheld between the master's release
//     and the backup's claim);
//   - after kill -9 of the master: when the backup holds the VIP, how long
//     nobody held it, and how long both did within killWindow.
//
// A keepalived master killed with -9 keeps its VIP until someone deletes
// it, so both nodes hold it once the backup takes over (asserted: it shows
// the kill was a crash, not a clean exit). A vipd master's VIPs carry a
// kernel lifetime it can no longer refresh, so the kernel drops them before
// any backup's Master_Down_Interval ends: no split brain (asserted).
func TestKill9Comparison(t *testing.T) {
	requireLab(t)
	type result struct {
		pair                     string
		termGap                  time.Duration
		takeover, killGap, split time.Duration
		deadHolds                bool
	}
	var results []result
	for _, tc := range []struct{ master, backup string }{
		{kindKeepalived, kindKeepalived},
		{kindKeepalived, kindVipd},
		{kindVipd, kindKeepalived},
		{kindVipd, kindVipd},
	} {
		pair := tc.master + "-master/" + tc.backup + "-backup"
		t.Run(pair, func(t *testing.T) {
			l := newLab(t)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			vip := netip.PrefixFrom(l.Addr4(200), 24)
			o := startObserver(t, l, vip.Addr())
			conf := vrrpConf{Version: 2, VRID: vrid(l), AdvertInt: "1", AuthPass: "1111", VIP: vip}
			mc, bc := conf, conf
			mc.Router, mc.Priority = "n1", highPrio
			bc.Router, bc.Priority = "n2", lowPrio
			master := startDaemon(t, tc.master, l.Nodes[0], mc)
			backup := startDaemon(t, tc.backup, l.Nodes[1], bc)
			waitOnly(ctx, t, o, vip.Addr(), master)
			waitState(t, master, "MASTER", 5*time.Second)
			waitState(t, backup, "BACKUP", 5*time.Second)

			stopAt := time.Now()
			master.Stop(t)
			waitOnly(ctx, t, o, vip.Addr(), backup)
			res := result{pair: pair, termGap: o.Gap(vip.Addr(), stopAt)}

			master.Start(t)
			waitOnly(ctx, t, o, vip.Addr(), master)
			waitState(t, master, "MASTER", 5*time.Second)
			waitState(t, backup, "BACKUP", 5*time.Second)

			killAt := time.Now()
			master.Kill9(t)
			if err := o.WaitHolder(ctx, vip.Addr(), "n2"); err != nil {
				t.Fatalf("backup never took over: %v\n%s", err, backup.Diag())
			}
			end := killAt.Add(killWindow)
			pause(ctx, time.Until(end))
			rep := o.Snapshot().VIP(vip.Addr())
			holders := o.Holders(vip.Addr())
			res.takeover = heldFrom(rep, "n2", killAt).Sub(killAt)
			res.killGap = rep.Gap(killAt)
			res.split = splitBetween(rep, killAt, end)
			res.deadHolds = slices.Contains(holders, "n1")
			results = append(results, res)
			t.Logf("SIGTERM gap %s; kill -9: backup holds after %s, unheld %s, two holders %s of %s, dead master holds at the end: %v",
				ms(res.termGap), ms(res.takeover), ms(res.killGap), ms(res.split), killWindow, res.deadHolds)

			if !slices.Contains(holders, "n2") {
				t.Errorf("holders %v %s after the kill: the backup (%s) lost the VIP\n%s", holders, killWindow, backup.Kind(), backup.Diag())
			}
			switch master.Kind() {
			case kindVipd:
				if res.split != 0 || res.deadHolds {
					t.Errorf("killed vipd master: two holders for %s, still holding at the end %v: want no split brain (kernel fence)\n%s",
						ms(res.split), res.deadHolds, master.Diag())
				}
			case kindKeepalived:
				if !res.deadHolds {
					t.Errorf("killed keepalived master no longer holds the VIP: the kill was not a crash\n%s", master.Diag())
				}
			}
		})
	}

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "pair (VRRPv2 PASS, advert_int 1)\tSIGTERM gap\tkill -9 takeover\tkill -9 unheld\ttwo holders in %s\tdead master keeps VIP\n", killWindow)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", r.pair, ms(r.termGap), ms(r.takeover), ms(r.killGap), ms(r.split), r.deadHolds)
	}
	tw.Flush()
	t.Logf("side by side:\n%s", b.String())
}
