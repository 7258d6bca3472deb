package config

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestInstanceDefaults(t *testing.T) {
	cfg, warns := mustParse(t, instanceSrc(""))
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	want := withDefaultGARP(&Instance{
		Pos: Pos{"t.conf", 1}, Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 100,
		AdvertInt: time.Second, Version: 2, Family: 4,
		VIPs:       []VIP{{Pos: Pos{"t.conf", 5}, Prefix: netip.MustParsePrefix("192.168.1.100/24")}},
		UnicastTTL: 255, Accept: true, DownTimerAdverts: 3,
	})
	if diff := cmp.Diff(want, cfg.Instance("VI_1"), cmpOpts); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
	if got := cfg.Instance("VI_1").InitialState(); got != StateBackup {
		t.Errorf("InitialState = %q, want BACKUP", got)
	}
	g := cfg.Global
	gotG := []any{g.VRRPVersion, g.GARPMasterDelay, g.GARPMasterRepeat, g.GARPMasterRefresh, g.GARPMasterRefreshRepeat,
		g.LBDataplane, g.MetricsListen.String(), g.VRRPMcastGroup4.String(), g.VRRPMcastGroup6.String()}
	wantG := []any{2, 5 * time.Second, 5, time.Duration(0), 1, "auto", "127.0.0.1:9650", "224.0.0.18", "ff02::12"}
	if diff := cmp.Diff(wantG, gotG); diff != "" {
		t.Errorf("global defaults (-want +got):\n%s", diff)
	}
}

// TestInstanceRules covers keepalived's corrections of what was written
// (vrrp.c vrrp_complete_instance) and the warnings that report them.
func TestInstanceRules(t *testing.T) {
	type view struct {
		State                      string
		Priority                   int
		Nopreempt                  bool
		PreemptDelay               time.Duration
		AuthType, AuthPass         string
		Version, EffVersion        int
		AdvertInt, EffAdvertInt    time.Duration
		Accept, Strict, LowerPrio  bool
		VIPs                       int
		VMAC                       string
		GARPDelay, GARPLowerDelay  time.Duration
		GARPRepeat, GARPLowerRepet int
	}
	base := view{Priority: 100, Version: 2, EffVersion: 2, AdvertInt: time.Second, EffAdvertInt: time.Second,
		Accept: true, VIPs: 1, GARPDelay: 5 * time.Second, GARPLowerDelay: 5 * time.Second, GARPRepeat: 5, GARPLowerRepet: 5}
	with := func(f func(v *view)) view { v := base; f(&v); return v }
	tests := []struct {
		name      string
		global    string
		body      string
		want      view
		wantWarns []string
	}{
		{
			name: "state MASTER without priority is the address owner",
			body: "    state MASTER\n",
			want: with(func(v *view) { v.State, v.Priority = StateMaster, 255 }),
		},
		{
			name: "nopreempt is cleared with state MASTER",
			body: "    state MASTER\n    priority 100\n    nopreempt\n",
			want: with(func(v *view) { v.State = StateMaster }),
			wantWarns: []string{
				"t.conf:9: nopreempt is ignored with state MASTER",
			},
		},
		{
			name:      "nopreempt is cleared for an address owner",
			body:      "    priority 255\n    nopreempt\n",
			want:      with(func(v *view) { v.Priority = 255 }),
			wantWarns: []string{"t.conf:8: nopreempt is ignored for an address owner (priority 255)"},
		},
		{
			name:      "preempt_delay is cleared with nopreempt",
			body:      "    nopreempt\n    preempt_delay 10\n",
			want:      with(func(v *view) { v.Nopreempt = true }),
			wantWarns: []string{"t.conf:8: preempt_delay is ignored with nopreempt"},
		},
		{
			name: "preempt_delay kept for a preempting backup",
			body: "    state BACKUP\n    preempt_delay 2.5\n",
			want: with(func(v *view) { v.State, v.PreemptDelay = StateBackup, 2500*time.Millisecond }),
		},
		{
			name:      "auth_pass longer than 8 is truncated",
			body:      "    authentication {\n        auth_type pass\n        auth_pass 123456789\n    }\n",
			want:      with(func(v *view) { v.AuthType, v.AuthPass = AuthPass, "12345678" }),
			wantWarns: []string{`t.conf:9: auth_pass longer than 8 characters; only the first 8 are used (the password itself is never logged)`},
		},
		{
			name:      "authentication ignored with VRRPv3",
			body:      "    version 3\n    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
			want:      with(func(v *view) { v.Version, v.EffVersion = 3, 3 }),
			wantWarns: []string{"t.conf:8: authentication is ignored with VRRPv3"},
		},
		{
			name:      "v2 rounds advert_int to whole seconds, x.5 up",
			body:      "    advert_int 1.5\n",
			want:      with(func(v *view) { v.AdvertInt, v.EffAdvertInt = 1500*time.Millisecond, 2*time.Second }),
			wantWarns: []string{"t.conf:7: advert_int 1.5 rounded to 2s for VRRPv2"},
		},
		{
			name:      "v2 turns a sub-second advert_int into 1s",
			body:      "    advert_int 0.3\n",
			want:      with(func(v *view) { v.AdvertInt = 300 * time.Millisecond }),
			wantWarns: []string{"t.conf:7: advert_int 0.3 rounded to 1s for VRRPv2"},
		},
		{
			name:   "v3 from global keeps centiseconds",
			global: "    vrrp_version 3\n",
			body:   "    advert_int 0.25\n",
			want: with(func(v *view) {
				v.Version, v.EffVersion, v.AdvertInt, v.EffAdvertInt = 3, 3, 250*time.Millisecond, 250*time.Millisecond
			}),
		},
		{
			name: "v3 clamps to 40.95s",
			body: "    version 3\n    advert_int 100\n",
			want: with(func(v *view) {
				v.Version, v.EffVersion, v.AdvertInt, v.EffAdvertInt = 3, 3, 100*time.Second, 40950*time.Millisecond
			}),
			wantWarns: []string{"t.conf:8: advert_int 100 rounded to 40.95s for VRRPv3"},
		},
		{
			name:      "strict mode",
			global:    "    vrrp_strict\n",
			body:      "    state MASTER\n    priority 100\n    authentication {\n        auth_type PASS\n    }\n",
			want:      with(func(v *view) { v.State, v.Strict, v.LowerPrio, v.Accept = StateBackup, true, true, false }),
			wantWarns: []string{"t.conf:9: authentication is ignored in strict mode", "t.conf:7: strict mode: state MASTER needs priority 255; using BACKUP"},
		},
		{
			name:   "GARP settings inherit global_defs unless overridden",
			global: "    vrrp_garp_master_delay 2\n    vrrp_garp_master_repeat 3\n",
			body:   "    garp_master_repeat 7\n    use_vmac\n",
			want: with(func(v *view) {
				v.GARPDelay, v.GARPLowerDelay, v.GARPRepeat, v.GARPLowerRepet, v.VMAC = 2*time.Second, 2*time.Second, 7, 7, "vrrp.51"
			}),
		},
		{
			name:   "GARP lower-priority settings follow global_defs when set there, else the instance's master ones",
			global: "    vrrp_garp_lower_prio_delay 9\n",
			body:   "    garp_master_delay 1\n    garp_master_repeat 4\n",
			want: with(func(v *view) {
				v.GARPDelay, v.GARPLowerDelay, v.GARPRepeat, v.GARPLowerRepet = time.Second, 9*time.Second, 4, 4
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := instanceSrc(tt.body)
			if tt.global != "" {
				src = instanceSrc(tt.body) + "global_defs {\n" + tt.global + "}\n"
			}
			cfg, warns := mustParse(t, src)
			in := cfg.Instance("VI_1")
			got := view{in.State, in.Priority, in.Nopreempt, in.PreemptDelay, in.AuthType, in.AuthPass,
				in.Version, in.EffectiveVersion(), in.AdvertInt, in.EffectiveAdvertInt(), in.Accept, in.Strict,
				in.LowerPrioNoAdvert, len(in.VIPs), in.VMACName, in.GARPMasterDelay, in.GARPLowerPrioDelay,
				in.GARPMasterRepeat, in.GARPLowerPrioRepeat}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("instance (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarns, warns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIPv6Instance(t *testing.T) {
	src := "vrrp_instance V6 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  fe80::7/64\n  2001:db8::7\n  10.0.0.7\n }\n" +
		" virtual_ipaddress_excluded {\n  10.0.0.8/24 dev eth1 label eth1:1 scope global brd 10.0.0.255 no_track\n }\n}\n"
	cfg, warns := mustParse(t, src)
	in := cfg.Instance("V6")
	if diff := cmp.Diff([]string{"t.conf:7: virtual_ipaddress 10.0.0.7/32: address family differs from the instance's (IPv6); ignored"}, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	wantEx := []VIP{{Pos: Pos{"t.conf", 10}, Prefix: netip.MustParsePrefix("10.0.0.8/24"), Dev: "eth1", Label: "eth1:1",
		Scope: "global", Brd: netip.MustParseAddr("10.0.0.255"), NoTrack: true}}
	got := []any{in.Family, in.Version, in.EffectiveVersion(), len(in.VIPs), in.VIPs[1].Prefix.String()}
	if diff := cmp.Diff([]any{6, 2, 3, 2, "2001:db8::7/128"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEx, in.ExcludedVIPs, cmpOpts); diff != "" {
		t.Errorf("excluded VIPs (-want +got):\n%s", diff)
	}
}

func TestVRIDSharing(t *testing.T) {
	inst := func(name, iface, vip, peers string) string {
		s := "vrrp_instance " + name + " {\n interface " + iface + "\n virtual_router_id 10\n virtual_ipaddress {\n " + vip + "\n }\n"
		if peers != "" {
			s += " unicast_peer {\n " + peers + "\n }\n"
		}
		return s + "}\n"
	}
	tests := []struct {
		name string
		src  string
	}{
		{"different interfaces", inst("A", "eth0", "10.0.0.1", "") + inst("B", "eth1", "10.0.0.2", "")},
		{"different families", inst("A", "eth0", "10.0.0.1", "") + inst("B", "eth0", "2001:db8::1", "")},
		{"unicast with distinct peers", inst("A", "eth0", "10.0.0.1", "10.0.0.5") + inst("B", "eth0", "10.0.0.2", "10.0.0.6")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, tt.src)
		})
	}
}

func TestTracking(t *testing.T) {
	src := "vrrp_script chk {\n script /bin/chk\n weight -20 reverse\n interval 0.5\n timeout 2\n rise 2\n fall 3\n user nobody nogroup\n init_fail\n}\n" +
		"vrrp_track_file tf {\n file /run/x\n weight -3\n init_file 5 overwrite\n}\n" +
		instanceSrc("    track_script {\n        chk\n        chk weight 7\n    }\n"+
			"    track_interface {\n        eth1 weight -10\n        eth2\n        eth3 weight 0 reverse\n    }\n"+
			"    track_file {\n        tf\n    }\n    arbiter off\n")
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	wantScript := &Script{Pos: Pos{"t.conf", 1}, Name: "chk", Script: "/bin/chk", Interval: 500 * time.Millisecond,
		Timeout: 2 * time.Second, Weight: -20, Reverse: true, Rise: 2, Fall: 3, User: "nobody", Group: "nogroup", InitFail: true}
	if diff := cmp.Diff(wantScript, cfg.Script("chk")); diff != "" {
		t.Errorf("script (-want +got):\n%s", diff)
	}
	wantTF := &TrackFile{Pos: Pos{"t.conf", 11}, Name: "tf", File: "/run/x", Weight: -3, InitFile: true, InitValue: "5", Overwrite: true}
	if diff := cmp.Diff(wantTF, cfg.TrackFile("tf")); diff != "" {
		t.Errorf("track file (-want +got):\n%s", diff)
	}
	in := cfg.Instance("VI_1")
	wantTS := []TrackRef{
		{Pos: Pos{"t.conf", 23}, Name: "chk", Weight: -20, Reverse: true},
		{Pos: Pos{"t.conf", 24}, Name: "chk", Weight: 7, WeightSet: true},
	}
	wantTI := []TrackInterface{
		{Pos: Pos{"t.conf", 27}, Name: "eth1", Weight: -10},
		{Pos: Pos{"t.conf", 28}, Name: "eth2"},
		{Pos: Pos{"t.conf", 29}, Name: "eth3", Reverse: true},
	}
	wantTF2 := []TrackRef{{Pos: Pos{"t.conf", 32}, Name: "tf", Weight: -3}}
	if diff := cmp.Diff([]any{wantTS, wantTI, wantTF2, true}, []any{in.TrackScripts, in.TrackInterfaces, in.TrackFiles, in.ArbiterOff}); diff != "" {
		t.Errorf("tracking (-want +got):\n%s", diff)
	}
}

func TestEffectiveAdvertInt(t *testing.T) {
	tests := []struct {
		in      time.Duration
		version int
		want    time.Duration
	}{
		{1 * time.Second, 2, 1 * time.Second},
		{2499 * time.Millisecond, 2, 2 * time.Second},
		{2500 * time.Millisecond, 2, 3 * time.Second},
		{0, 2, 1 * time.Second},
		{400 * time.Millisecond, 2, 1 * time.Second},
		{300 * time.Second, 2, 255 * time.Second},
		{10 * time.Millisecond, 3, 10 * time.Millisecond},
		{1234 * time.Millisecond, 3, 1230 * time.Millisecond},
		{1235 * time.Millisecond, 3, 1240 * time.Millisecond},
		{41 * time.Second, 3, 40950 * time.Millisecond},
		{0, 3, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.in.String()+"/v"+string(rune('0'+tt.version)), func(t *testing.T) {
			if got := effectiveAdvertInt(tt.in, tt.version); got != tt.want {
				t.Errorf("effectiveAdvertInt(%v, %d) = %v, want %v", tt.in, tt.version, got, tt.want)
			}
		})
	}
}

// keepalived's current name for vrrp_track_file is track_file.
func TestTopLevelTrackFile(t *testing.T) {
	src := "track_file tf {\n file /run/x\n weight -3\n}\n" + instanceSrc("    track_file {\n        tf\n    }\n    arbiter off\n")
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	want := &TrackFile{Pos: Pos{"t.conf", 1}, Name: "tf", File: "/run/x", Weight: -3, InitValue: "0"}
	if diff := cmp.Diff(want, cfg.TrackFile("tf")); diff != "" {
		t.Errorf("track file (-want +got):\n%s", diff)
	}
}

// global_defs' vrrp_<keyword> is every instance's default; the instance's
// own keyword wins.
func TestGlobalInstanceDefaults(t *testing.T) {
	src := "global_defs {\n vrrp_skip_check_adv_addr\n vrrp_check_unicast_src\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert\n}\n" +
		instanceSrc("    arbiter off\n") +
		strings.Replace(instanceSrc("    arbiter off\n    skip_check_adv_addr off\n    check_unicast_src false\n    lower_prio_no_advert off\n    higher_prio_send_advert off\n"),
			"VI_1", "VI_2", 1)
	src = strings.Replace(src, "virtual_router_id 51\n    virtual_ipaddress {\n        192.168.1.100/24\n    }\n    arbiter off\n    skip", "virtual_router_id 52\n    virtual_ipaddress {\n        192.168.1.101/24\n    }\n    arbiter off\n    skip", 1)
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	type flags struct{ Skip, Check, Lower, Higher bool }
	of := func(in *Instance) flags {
		return flags{in.SkipCheckAdvAddr, in.CheckUnicastSrc, in.LowerPrioNoAdvert, in.HigherPrioSendAdvert}
	}
	if diff := cmp.Diff(flags{true, true, true, true}, of(cfg.Instance("VI_1"))); diff != "" {
		t.Errorf("VI_1 takes the globals (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(flags{}, of(cfg.Instance("VI_2"))); diff != "" {
		t.Errorf("VI_2 overrides them (-want +got):\n%s", diff)
	}
}

// keepalived's tracking rules for sync groups and address owners
// (vrrp.c vrrp_complete_instance, sync_group_tracking_init).
func TestSyncGroupTracking(t *testing.T) {
	scripts := "vrrp_script w {\n script /bin/w\n weight -20\n}\nvrrp_script u {\n script /bin/u\n}\n" +
		"vrrp_track_file f1 {\n file /run/f1\n}\nvrrp_track_file f5 {\n file /run/f5\n weight 5\n}\n"
	member := func(name string, vrid int, prio int) string {
		return fmt.Sprintf("vrrp_instance %s {\n interface eth0\n virtual_router_id %d\n priority %d\n virtual_ipaddress {\n 10.0.0.%d/24\n }\n"+
			" track_script {\n w\n u\n }\n track_file {\n f1\n f5\n }\n track_interface {\n eth1 weight 10\n eth2\n }\n arbiter off\n}\n", name, vrid, prio, vrid)
	}
	type trk struct {
		Scripts, Files, Ifaces []string // name:weight
	}
	of := func(in *Instance) trk {
		var out trk
		for _, r := range in.TrackScripts {
			out.Scripts = append(out.Scripts, fmt.Sprintf("%s:%d", r.Name, r.Weight))
		}
		for _, r := range in.TrackFiles {
			out.Files = append(out.Files, fmt.Sprintf("%s:%d", r.Name, r.Weight))
		}
		for _, r := range in.TrackInterfaces {
			out.Ifaces = append(out.Ifaces, fmt.Sprintf("%s:%d", r.Name, r.Weight))
		}
		return out
	}
	tests := []struct {
		name  string
		group string
		prio  int
		want  trk
		warns int
	}{
		{"outside a group weights count", "", 100,
			trk{[]string{"w:-20", "u:0"}, []string{"f1:1", "f5:5"}, []string{"eth1:10", "eth2:0"}}, 0},
		{"a member loses its weighted trackers and gets the group's",
			"vrrp_sync_group G {\n group {\n VI_1\n VI_2\n }\n track_script {\n w weight -7\n }\n track_interface {\n eth3 weight 4\n }\n}\n", 100,
			trk{[]string{"u:0", "w:-7"}, []string{"f1:0"}, []string{"eth1:0", "eth2:0", "eth3:4"}}, 8}, // four for each member
		{"sync_group_tracking_weight keeps them",
			"vrrp_sync_group G {\n group {\n VI_1\n VI_2\n }\n sync_group_tracking_weight\n}\n", 100,
			trk{[]string{"w:-20", "u:0"}, []string{"f1:1", "f5:5"}, []string{"eth1:10", "eth2:0"}}, 0},
		{"an address owner tracks unweighted only", "", 255,
			trk{[]string{"u:0"}, []string{"f1:0"}, []string{"eth2:0"}}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := scripts + member("VI_1", 1, tt.prio) + member("VI_2", 2, 100) + tt.group
			cfg, warns, err := Parse("t.conf", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, of(cfg.Instance("VI_1"))); diff != "" {
				t.Errorf("VI_1 trackers (-want +got):\n%s", diff)
			}
			if len(warns) != tt.warns {
				t.Errorf("%d warnings %q, want %d", len(warns), warns, tt.warns)
			}
		})
	}
}

// vrrp_track_process with keepalived's keywords and rules.
func TestTrackProcess(t *testing.T) {
	src := "vrrp_track_process web {\n process /usr/sbin/nginx -g \"daemon off;\"\n weight -30 reverse\n quorum 2\n quorum_max 4\n delay 0.5\n}\n" +
		"vrrp_track_process gone {\n process cron\n quorum_max 0\n}\n" +
		instanceSrc("    track_process {\n        web\n        gone weight 0\n    }\n    arbiter off\n")
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	want := &TrackProcess{Pos: Pos{"t.conf", 1}, Name: "web", Process: "/usr/sbin/nginx", Params: []string{"-g", "daemon off;"},
		ParamMatch: ParamMatchExact, FullCommand: true, Weight: -30, Reverse: true, Quorum: 2, QuorumMax: 4,
		ForkDelay: 500 * time.Millisecond, TerminateDelay: 500 * time.Millisecond}
	if diff := cmp.Diff(want, cfg.TrackProcess("web")); diff != "" {
		t.Errorf("web (-want +got):\n%s", diff)
	}
	if g := cfg.TrackProcess("gone"); g.Quorum != 0 || g.QuorumMax != 0 {
		t.Errorf("gone: quorum %d..%d, want 0..0 (the process must not run)", g.Quorum, g.QuorumMax)
	}
	refs := cfg.Instance("VI_1").TrackProcesses
	if len(refs) != 2 || refs[0].Weight != -30 || !refs[0].Reverse || refs[1].Weight != 0 {
		t.Errorf("instance refs %+v, want web -30 reverse and gone 0", refs)
	}
	for _, bad := range []struct{ src, err string }{
		{"vrrp_track_process x {\n weight 1\n}\n", "process name not specified"},
		{"vrrp_track_process x {\n process a-name-longer-than-15\n}\n", "longer than a process name can be"},
		{"vrrp_track_process x {\n process a\n quorum 3\n quorum_max 2\n}\n", "quorum_max 2 is less than quorum 3"},
		{instanceSrc("    track_process {\n        nope\n    }\n"), `track_process "nope" is not a defined vrrp_track_process`},
	} {
		if _, _, err := Parse("t.conf", []byte(bad.src)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%q: error %v, want %q", bad.src, err, bad.err)
		}
	}
}

// keepalived: a unicast keyword without peers runs multicast (a warning);
// unicast_fault_no_peer puts the instance in FAULT instead.
func TestUnicastWithoutPeers(t *testing.T) {
	cfg, warns := mustParse(t, instanceSrc("    unicast_src_ip 192.168.1.10\n    unicast_peer {\n    }\n    arbiter off\n"))
	if in := cfg.Instance("VI_1"); in.ConfigFault != "" || len(warns) != 1 || !strings.Contains(warns[0], "runs multicast") {
		t.Errorf("without unicast_fault_no_peer: fault %q, warnings %q; want multicast with a warning", in.ConfigFault, warns)
	}
	cfg, _ = mustParse(t, instanceSrc("    unicast_peer {\n    }\n    unicast_fault_no_peer\n    arbiter off\n"))
	if in := cfg.Instance("VI_1"); !strings.Contains(in.ConfigFault, "without any peers") {
		t.Errorf("with unicast_fault_no_peer: fault %q, want one", in.ConfigFault)
	}
}

// vrrp_min_garp: one GARP, no second burst, unless set explicitly.
func TestMinGARP(t *testing.T) {
	cfg, _ := mustParse(t, "global_defs {\n vrrp_min_garp\n vrrp_garp_master_delay 2\n}\n"+instanceSrc("    arbiter off\n"))
	g := cfg.Global
	if g.GARPMasterRepeat != 1 || g.GARPMasterDelay != 2*time.Second || g.GARPMasterRefresh != 0 {
		t.Errorf("repeat %d delay %v refresh %v; want 1, the explicit 2s, 0", g.GARPMasterRepeat, g.GARPMasterDelay, g.GARPMasterRefresh)
	}
	if in := cfg.Instance("VI_1"); in.GARPMasterRepeat != 1 || in.GARPLowerPrioRepeat != 1 {
		t.Errorf("instance repeat %d, lower-prio repeat %d; want 1 and 1", in.GARPMasterRepeat, in.GARPLowerPrioRepeat)
	}
}

// vrrp_down_timer_adverts is the instances' default down_timer_adverts.
func TestGlobalDownTimerAdverts(t *testing.T) {
	cfg, _ := mustParse(t, "global_defs {\n vrrp_down_timer_adverts 5\n}\n"+instanceSrc("    arbiter off\n"))
	if got := cfg.Instance("VI_1").DownTimerAdverts; got != 5 {
		t.Errorf("down_timer_adverts %d, want the global 5", got)
	}
}
