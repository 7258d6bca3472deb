package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAllInstanceKeywords writes every supported vrrp_instance keyword once
// and compares the whole Instance, so a keyword that is parsed into the
// wrong field (or not at all) shows up.
func TestAllInstanceKeywords(t *testing.T) {
	src := `vrrp_script chk {
    script /bin/true
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 42
    priority 150
    advert_int 2
    version 2
    preempt
    preempt_delay 4
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        10.1.0.1/24 dev eth0 label eth0:vip
    }
    virtual_ipaddress_excluded {
        10.2.0.1
    }
    mcast_src_ip 10.1.0.10
    unicast_src_ip 10.1.0.10
    unicast_peer {
        10.1.0.11 min_ttl 1 max_ttl 255
        10.1.0.12 10.1.0.13
    }
    unicast_ttl 64
    track_interface {
        eth1 eth2
    }
    track_script {
        chk weight 10
    }
    use_vmac vrrp42
    vmac_xmit_base
    garp_master_delay 1
    garp_master_repeat 2
    garp_master_refresh 60
    garp_master_refresh_repeat 3
    garp_interval 0.001
    gna_interval 0.002
    garp_lower_prio_delay 7
    garp_lower_prio_repeat 8
    dont_track_primary
    no_accept
    strict_mode off
    notify_master "/bin/n master"
    notify_backup /bin/n backup
    notify_fault /bin/n fault
    notify_stop /bin/n stop
    notify /bin/n
    lower_prio_no_advert
    higher_prio_send_advert on
    down_timer_adverts 5
    arbiter off
}
`
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	a := netip.MustParseAddr
	p := func(l int) Pos { return Pos{"t.conf", l} }
	want := &Instance{
		Pos: p(4), Name: "VI_1", State: StateBackup, Interface: "eth0", VRID: 42, Priority: 150, PrioritySet: true,
		AdvertInt: 2 * time.Second, Version: 2, Family: 4, Preempt: true, PreemptDelay: 4 * time.Second,
		AuthType: AuthPass, AuthPass: "secret",
		VIPs:         []VIP{{Pos: p(18), Prefix: netip.MustParsePrefix("10.1.0.1/24"), Dev: "eth0", Label: "eth0:vip"}},
		ExcludedVIPs: []VIP{{Pos: p(21), Prefix: netip.MustParsePrefix("10.2.0.1/32")}},
		MCastSrcIP:   a("10.1.0.10"), UnicastSrcIP: a("10.1.0.10"),
		UnicastPeers: []netip.Addr{a("10.1.0.11"), a("10.1.0.12"), a("10.1.0.13")}, UnicastTTL: 64,
		TrackInterfaces: []TrackInterface{{Pos: p(31), Name: "eth1"}, {Pos: p(31), Name: "eth2"}},
		TrackScripts:    []TrackRef{{Pos: p(34), Name: "chk", Weight: 10, WeightSet: true}},
		UseVMAC:         true, VMACName: "vrrp42", VMACXmitBase: true,
		GARPMasterDelay: time.Second, GARPMasterRepeat: 2, GARPMasterRefresh: time.Minute, GARPMasterRefreshRepeat: 3,
		GARPInterval: time.Millisecond, GNAInterval: 2 * time.Millisecond, GARPLowerPrioDelay: 7 * time.Second, GARPLowerPrioRepeat: 8,
		DontTrackPrimary: true, Accept: false, Strict: false,
		NotifyMaster: "/bin/n master", NotifyBackup: "/bin/n backup", NotifyFault: "/bin/n fault", NotifyStop: "/bin/n stop", Notify: "/bin/n",
		LowerPrioNoAdvert: true, HigherPrioSendAdvert: true, DownTimerAdverts: 5, ArbiterOff: true,
		PeerTTL: map[netip.Addr][2]int{a("10.1.0.11"): {1, 255}}, CheckUnicastSrc: true, // min_ttl turns check_unicast_src on
	}
	if diff := cmp.Diff(want, cfg.Instance("VI_1"), cmpOpts); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
}

func TestAllGlobalKeywords(t *testing.T) {
	src := `global_defs {
    router_id r1
    vrrp_version 3
    script_user keepalived_script scripts
    enable_script_security
    vrrp_strict
    vrrp_garp_master_delay 3
    vrrp_garp_master_repeat 4
    vrrp_garp_master_refresh 30
    vrrp_garp_master_refresh_repeat 2
    vrrp_garp_interval 0.000250
    vrrp_gna_interval 0.5
    vrrp_garp_lower_prio_delay 6
    vrrp_garp_lower_prio_repeat 9
    notification_email {
        a@example.com
        b@example.com
    }
    notification_email_from vipd@example.com
    smtp_server 10.0.0.25 2525
    smtp_connect_timeout 12
    vrrp_startup_delay 5.5
    lb_dataplane NFTables
    metrics_listen [::1]:9100
    vrrp_mcast_group4 224.0.0.19
    vrrp_mcast_group6 ff02::13
    vrrp_skip_check_adv_addr
    vrrp_check_unicast_src
    vrrp_lower_prio_no_advert
    vrrp_higher_prio_send_advert off
    vrrp_iptables
}
`
	cfg, warns := mustParse(t, src)
	wantWarns := []string{`t.conf:31: "vrrp_iptables" is not supported by vipd; ignored`}
	if diff := cmp.Diff(wantWarns, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	want := GlobalDefs{
		Pos: Pos{"t.conf", 1}, RouterID: "r1", VRRPVersion: 3, ScriptUser: "keepalived_script", ScriptGroup: "scripts",
		EnableScriptSecurity: true, VRRPStrict: true, DefaultInterface: "eth0", VRRPSkipCheckAdvAddr: true, VRRPCheckUnicastSrc: true, VRRPLowerPrioNoAdvert: true,
		GARPMasterDelay: 3 * time.Second, GARPMasterRepeat: 4,
		GARPMasterRefresh: 30 * time.Second, GARPMasterRefreshRepeat: 2, GARPInterval: 250 * time.Microsecond,
		GNAInterval: 500 * time.Millisecond, GARPLowerPrioDelay: 6 * time.Second, GARPLowerPrioRepeat: 9, StartupScript: RunScript{Timeout: 10 * time.Second}, ShutdownScript: RunScript{Timeout: 10 * time.Second},
		NotificationEmail: []string{"a@example.com", "b@example.com"}, NotificationEmailFrom: "vipd@example.com",
		SMTPServer: "10.0.0.25 2525", SMTPConnectTimeout: 12 * time.Second, VRRPStartupDelay: 5500 * time.Millisecond,
		LBDataplane: DataplaneNftables, MetricsListen: netip.MustParseAddrPort("[::1]:9100"),
		VRRPMcastGroup4: netip.MustParseAddr("224.0.0.19"), VRRPMcastGroup6: netip.MustParseAddr("ff02::13"),
	}
	if diff := cmp.Diff(want, cfg.Global, cmpOpts); diff != "" {
		t.Errorf("global_defs (-want +got):\n%s", diff)
	}
}
