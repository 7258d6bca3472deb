package interop

import (
	"context"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRejectedAdverts proves the VRRPv2 checks are real on both sides:
// with a different password (or none), or a different advert_int, neither
// daemon accepts the other's adverts, so both become master and hold the
// VIP (the split brain is the expected outcome here), vipd counts the drops
// under the reason in `vipctl status --json` (stats.dropped), and
// keepalived logs its own rejection.
func TestRejectedAdverts(t *testing.T) {
	requireLab(t)
	for _, tc := range []struct {
		name             string
		vipdPass, kaPass string
		vipdInt, kaInt   string
		reason           string         // vipd's drop reason for keepalived's adverts
		kaRejected       *regexp.Regexp // keepalived's complaint about vipd's adverts
	}{
		{"auth/password differs", "1111", "2222", "1", "1", "auth",
			regexp.MustCompile(`\(` + instanceName + `\) received an invalid passwd!`)},
		{"auth/keepalived without auth", "1111", "", "1", "1", "auth",
			regexp.MustCompile(`\(` + instanceName + `\) received a 1 auth, expecting 0`)},
		{"interval/v2 advert_int differs", "1111", "1111", "2", "1", "interval",
			regexp.MustCompile(`\(` + instanceName + `\) advertisement interval mismatch`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			vip := netip.PrefixFrom(l.Addr4(200), 24)
			o := startObserver(t, l, vip.Addr())
			conf := vrrpConf{Version: 2, VRID: vrid(l), AdvertInt: "1", VIP: vip}
			vc, kc := conf, conf
			vc.Router, vc.Priority, vc.AuthPass, vc.AdvertInt = "n1", highPrio, tc.vipdPass, tc.vipdInt
			kc.Router, kc.Priority, kc.AuthPass, kc.AdvertInt = "n2", lowPrio, tc.kaPass, tc.kaInt
			v := startDaemon(t, kindVipd, l.Nodes[0], vc).(*vipdNode)
			k := startDaemon(t, kindKeepalived, l.Nodes[1], kc).(*keepalivedNode)

			// keepalived, the lower priority, claims only because it
			// drops vipd's adverts; vipd then drops keepalived's and
			// stays master too.
			for _, d := range []daemon{v, k} {
				if err := o.WaitHolder(ctx, vip.Addr(), d.Host().Name); err != nil {
					t.Fatalf("%v\n%s\n%s", err, v.Diag(), k.Diag())
				}
				waitState(t, d, "MASTER", 5*time.Second)
			}
			since := time.Now()
			pause(ctx, 2*time.Second) // an advert or two each way, all dropped
			if diff := cmp.Diff([][]string{{"n1", "n2"}}, holdersSince(o.Snapshot().VIP(vip.Addr()), since)); diff != "" {
				t.Errorf("holders while adverts are rejected (-want +got):\n%s", diff)
			}

			// keepalived advertises every second; on a loaded machine the
			// second advert may still be on its way: wait for it, bounded.
			st := v.status(t)
			for end := time.Now().Add(5 * time.Second); st.Stats.Dropped[tc.reason] < 2 && time.Now().Before(end); st = v.status(t) {
				pause(ctx, 100*time.Millisecond)
			}
			t.Logf("vipd stats: %+v", st.Stats)
			if st.State != "MASTER" || st.Stats.Dropped[tc.reason] < 2 {
				t.Errorf("vipd is %s with dropped %v: want MASTER with at least 2 adverts dropped for %s\n%s", st.State, st.Stats.Dropped, tc.reason, v.Diag())
			}
			for r, n := range st.Stats.Dropped {
				if r != tc.reason && n != 0 {
					t.Errorf("vipd dropped %d adverts for %q, want only %q drops", n, r, tc.reason)
				}
			}
			if !k.logHas(tc.kaRejected) {
				t.Errorf("keepalived did not log %v\n%s", tc.kaRejected, k.Diag())
			}
			t.Logf("two holders for %s once both claimed (expected when adverts are rejected)",
				ms(o.Snapshot().VIP(vip.Addr()).SplitBrain))
		})
	}
}
