package config

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cmpOpts compares net/netip values, whose fields are unexported.
var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
}

const fixtureDir = "testdata/keepalived"

// defaultGARP is the instance GARP settings inherited from an empty
// global_defs.
func withDefaultGARP(in *Instance) *Instance {
	in.GARPMasterDelay = 5 * time.Second
	in.GARPMasterRepeat = 5
	in.GARPMasterRefreshRepeat = 1
	in.GARPLowerPrioDelay = 5 * time.Second
	in.GARPLowerPrioRepeat = 5
	return in
}

// TestFixtures loads every configuration users migrate from (copied from
// the seed documents) and checks the values their behaviour depends on.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file      string
		wantWarns []string // "line: msg"
		check     func(t *testing.T, f string, c *Config)
	}{
		{
			file: "seed000-mysql-master.conf",
			check: func(t *testing.T, f string, c *Config) {
				in := c.Instance("VI_1")
				got := []any{c.Global.RouterID, in.State, in.Priority, in.VRID, in.AuthType, in.AuthPass, in.VIPs[0].Prefix.String(),
					c.Script("check_run").Interval, c.Script("check_run").Timeout, in.TrackScripts[0].Weight}
				want := []any{"master", "MASTER", 100, 89, "PASS", "1111", "192.168.231.66/24", 5 * time.Second, 5 * time.Second, 0}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			file: "seed000-nginx-backup.conf",
			check: func(t *testing.T, f string, c *Config) {
				in := c.Instance("VI_1")
				got := []any{c.Global.RouterID, in.State, in.Nopreempt, in.Priority, in.VRID, in.InitialState()}
				want := []any{"directory2", "BACKUP", true, 50, 80, "BACKUP"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			file: "seed000-nginx-master.conf",
			check: func(t *testing.T, f string, c *Config) {
				in := c.Instance("VI_1")
				got := []any{in.State, in.Priority, in.VRID, in.TrackScripts[0].Name, c.Script("check_nginx").Script}
				want := []any{"MASTER", 100, 80, "check_nginx", "/etc/keepalived/check_nginx_status.sh"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			file: "seed001-lvs-dr.conf",
			wantWarns: []string{
				`27: "nb_get_retry" is deprecated, use "retry"`,
				`36: "nb_get_retry" is deprecated, use "retry"`,
			},
			check: func(t *testing.T, f string, c *Config) {
				if got, want := c.Instance("VI_1").AuthPass, "hell>com"; got != want {
					t.Errorf("auth_pass = %q, want %q", got, want)
				}
				rs := func(line int, addr string, ckLine int) *RealServer {
					a := netip.MustParseAddr(addr)
					return &RealServer{Pos: Pos{f, line}, Addr: a, Port: 80, Weight: 100, Checkers: []*Checker{{
						Pos: Pos{f, ckLine}, Kind: CheckTCP, ConnectIP: a, ConnectPort: 80,
						ConnectTimeout: 10 * time.Second, Retry: 3, DelayBeforeRetry: 3 * time.Second,
						DelayLoop: 5 * time.Second, Warmup: 5 * time.Second,
					}}}
				}
				want := []*VirtualServer{{
					Pos: Pos{f, 16}, Addr: netip.MustParseAddr("192.168.188.120"), Port: 80,
					DelayLoop: 5 * time.Second, LBAlgo: "wlc", LBKind: "DR", Protocol: "TCP", Quorum: 1,
					RealServers: []*RealServer{rs(23, "192.168.188.107", 25), rs(32, "192.168.188.110", 34)},
				}}
				if diff := cmp.Diff(want, c.VirtualServers, cmpOpts); diff != "" {
					t.Errorf("virtual servers (-want +got):\n%s", diff)
				}
			},
		},
		{
			file: "seed003-haproxy-master.conf",
			check: func(t *testing.T, f string, c *Config) {
				in := c.Instance("VI_1")
				got := []any{in.Priority, in.VIPs[0].Dev, in.TrackScripts[0].Weight, c.Script("check_haproxy").Interval}
				want := []any{101, "eth0", -5, 2 * time.Second}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			file: "seed003-haproxy-weight.conf",
			check: func(t *testing.T, f string, c *Config) {
				wantScripts := []*Script{{
					Pos: Pos{f, 3}, Name: "checkhaproxy", Script: "/etc/check.sh",
					Interval: 3 * time.Second, Timeout: 3 * time.Second, Weight: -20, Rise: 1, Fall: 1,
				}}
				if diff := cmp.Diff(wantScripts, c.Scripts, cmpOpts); diff != "" {
					t.Errorf("scripts (-want +got):\n%s", diff)
				}
				want := []*Instance{withDefaultGARP(&Instance{
					Pos: Pos{f, 10}, Name: "test", State: StateBackup, Interface: "eth0", VRID: 60,
					Priority: 80, PrioritySet: true, AdvertInt: time.Second, Version: 2, Family: 4,
					Nopreempt:    true,
					VIPs:         []VIP{{Pos: Pos{f, 19}, Prefix: netip.MustParsePrefix("192.168.1.100/24"), Dev: "eth0"}},
					UnicastTTL:   255,
					TrackScripts: []TrackRef{{Pos: Pos{f, 23}, Name: "checkhaproxy", Weight: -20}},
					Accept:       true, DownTimerAdverts: 3,
				})}
				if diff := cmp.Diff(want, c.Instances, cmpOpts); diff != "" {
					t.Errorf("instances (-want +got):\n%s", diff)
				}
			},
		},
		{
			file: "seed004-lvs-wrr.conf",
			wantWarns: []string{
				`32: "nat_mask" is obsolete and ignored`,
				`40: "nb_get_retry" is deprecated, use "retry"`,
			},
			check: func(t *testing.T, f string, c *Config) {
				g := c.Global
				vs := c.VirtualServers[0]
				got := []any{g.NotificationEmail, g.NotificationEmailFrom, g.SMTPServer, g.SMTPConnectTimeout, g.RouterID,
					vs.LBAlgo, vs.PersistenceTimeout, len(vs.RealServers), vs.RealServers[0].Weight, vs.RealServers[0].Checkers[0].Retry}
				want := []any{[]string{"ops@example.com"}, "keepalived@example.com", "127.0.0.1", 30 * time.Second, "LVS_DEVEL",
					"wrr", 50 * time.Second, 1, 1, 3}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			// keepalived's doc/samples/keepalived.conf.fwmark: port-less
			// real servers on a fwmark service, checked on connect_port.
			file: "sample-fwmark.conf",
			check: func(t *testing.T, f string, c *Config) {
				vs := c.VirtualServers[0]
				var got []any
				got = append(got, vs.FWMark, vs.LBKind, vs.PersistenceTimeout)
				for _, rs := range vs.RealServers {
					got = append(got, rs.Addr.String(), rs.Port, rs.Checkers[0].ConnectPort, rs.Checkers[0].ConnectTimeout)
				}
				want := []any{uint32(1), "NAT", 900 * time.Second,
					"192.168.201.100", uint16(0), uint16(80), 3 * time.Second,
					"192.168.201.101", uint16(0), uint16(80), 3 * time.Second}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
	}
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d fixtures in %s but %d test cases: add a case for each new fixture", len(files), fixtureDir, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := filepath.Join(fixtureDir, tt.file)
			cfg, warns, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var want []string
			for _, w := range tt.wantWarns {
				want = append(want, f+":"+w)
			}
			if diff := cmp.Diff(want, warnStrings(warns)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			tt.check(t, f, cfg)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.conf"))
	if err == nil {
		t.Fatal("Load of a missing file: got nil error")
	}
}
