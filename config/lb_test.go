package config

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCheckerInheritance checks keepalived's VS → RS → checker defaults
// and the per-kind defaults (check_api.c, check_http.c, check_misc.c, check_dns.c).
func TestCheckerInheritance(t *testing.T) {
	src := `virtual_server 10.0.0.1 443 {
    delay_loop 10
    connect_timeout 7
    lb_algo rr
    lvs_method NAT
    protocol tcp
    persistence_timeout
    persistence_granularity 255.255.255.0
    sorry_server 10.0.0.99 80
    sorry_server_inhibit
    inhibit_on_failure
    quorum 2
    hysteresis 1
    quorum_up "/bin/up"
    quorum_down /bin/down now
    alpha
    omega
    ha_suspend
    virtualhost vs.example
    real_server 10.0.0.2 443 {
        weight 3
        retry 4
        notify_up /bin/rs-up
        HTTP_GET {
            url {
                path /health
                status_code 200 301-302
            }
            url {
                path /
                digest abc
                virtualhost other.example
            }
        }
        TCP_CHECK {
            connect_port 8443
            bindto 10.0.0.1
            warmup 0
        }
        MISC_CHECK {
            misc_path "/bin/check arg"
            misc_dynamic
            delay_loop 30
        }
        DNS_CHECK {
            type a
            name example.com
        }
        FILE_CHECK {
            track_file tf
        }
    }
    real_server 10.0.0.3 443 {
        inhibit_on_failure off
    }
    snat
}
vrrp_track_file tf {
    file /run/x
}
`
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	rsA := netip.MustParseAddr("10.0.0.2")
	ck := func(line int, kind string) *Checker {
		return &Checker{Pos: Pos{"t.conf", line}, Kind: kind, ConnectIP: rsA, ConnectPort: 443,
			ConnectTimeout: 7 * time.Second, Retry: 4, DelayBeforeRetry: time.Second,
			DelayLoop: 10 * time.Second, Warmup: 10 * time.Second}
	}
	http := ck(24, CheckHTTP)
	http.DelayBeforeRetry, http.HTTPProtocol = 3*time.Second, HTTP10
	http.URLs = []URL{
		{Pos: Pos{"t.conf", 25}, Path: "/health", StatusCodes: []CodeRange{{200, 200}, {301, 302}}, Virtualhost: "vs.example"},
		{Pos: Pos{"t.conf", 29}, Path: "/", Digest: "abc", StatusCodes: []CodeRange{{200, 299}}, Virtualhost: "other.example"},
	}
	tcp := ck(35, CheckTCP)
	tcp.ConnectPort, tcp.BindTo, tcp.Warmup = 8443, netip.MustParseAddr("10.0.0.1"), 0
	misc := ck(40, CheckMisc)
	misc.DelayLoop, misc.Warmup, misc.MiscPath, misc.MiscDynamic, misc.MiscTimeout = 30*time.Second, 30*time.Second, "/bin/check arg", true, 30*time.Second
	dns := ck(45, CheckDNS)
	dns.DelayBeforeRetry, dns.DNSType, dns.DNSName = 10*time.Second, "A", "example.com"
	file := ck(49, CheckFile)
	file.FileName, file.FilePath, file.FileWeight = "tf", "/run/x", 1

	want := []*VirtualServer{{
		Pos: Pos{"t.conf", 1}, Addr: netip.MustParseAddr("10.0.0.1"), Port: 443, DelayLoop: 10 * time.Second,
		LBAlgo: "rr", LBKind: "NAT", PersistenceTimeout: 360 * time.Second,
		PersistenceGranularity: netip.MustParseAddr("255.255.255.0"), Protocol: "TCP",
		SorryServer:      &SorryServer{Addr: netip.MustParseAddr("10.0.0.99"), Port: 80, Inhibit: true},
		InhibitOnFailure: true, Quorum: 2, Hysteresis: 1, QuorumUp: "/bin/up", QuorumDown: "/bin/down now",
		Alpha: true, Omega: true, HASuspend: true, SNAT: true, Virtualhost: "vs.example",
		RealServers: []*RealServer{
			{Pos: Pos{"t.conf", 20}, Addr: rsA, Port: 443, Weight: 3, InhibitOnFailure: true, NotifyUp: "/bin/rs-up",
				Checkers: []*Checker{http, tcp, misc, dns, file}},
			{Pos: Pos{"t.conf", 53}, Addr: netip.MustParseAddr("10.0.0.3"), Port: 443, Weight: 1},
		},
	}}
	if diff := cmp.Diff(want, cfg.VirtualServers, cmpOpts); diff != "" {
		t.Errorf("virtual servers (-want +got):\n%s", diff)
	}
}

func TestCheckerKindDefaults(t *testing.T) {
	src := "virtual_server fwmark 5 {\n real_server 10.0.0.2 80 {\n  MISC_CHECK {\n   misc_path /bin/x\n  }\n  DNS_CHECK {\n  }\n  TCP_CHECK {\n  }\n }\n}\n"
	cfg, _ := mustParse(t, src)
	vs := cfg.VirtualServers[0]
	var got [][]any
	for _, c := range vs.RealServers[0].Checkers {
		got = append(got, []any{c.Kind, c.Retry, c.DelayBeforeRetry, c.ConnectTimeout, c.DelayLoop, c.Warmup})
	}
	want := [][]any{
		{CheckMisc, 0, time.Second, 5 * time.Second, 60 * time.Second, 60 * time.Second},
		{CheckDNS, 3, 60 * time.Second, 5 * time.Second, 60 * time.Second, 60 * time.Second},
		{CheckTCP, 1, time.Second, 5 * time.Second, 60 * time.Second, 60 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := []any{vs.FWMark, vs.LBAlgo, vs.LBKind, vs.Protocol}; !cmp.Equal(got, []any{uint32(5), "wlc", "NAT", "TCP"}) {
		t.Errorf("fwmark VS = %v", got)
	}
}

func TestVirtualServerGroup(t *testing.T) {
	src := "virtual_server_group web {\n 10.0.0.1 80\n 10.0.0.10-20 80\n 2001:db8::1-ff 443\n fwmark 7\n}\n" +
		"virtual_server group web {\n lb_algo rr\n}\n"
	cfg, _ := mustParse(t, src)
	a := netip.MustParseAddr
	want := []*VirtualServerGroup{{Pos: Pos{"t.conf", 1}, Name: "web", Entries: []VSGroupEntry{
		{Pos: Pos{"t.conf", 2}, Addr: a("10.0.0.1"), Last: a("10.0.0.1"), Port: 80},
		{Pos: Pos{"t.conf", 3}, Addr: a("10.0.0.10"), Last: a("10.0.0.20"), Port: 80},
		{Pos: Pos{"t.conf", 4}, Addr: a("2001:db8::1"), Last: a("2001:db8::ff"), Port: 443},
		{Pos: Pos{"t.conf", 5}, FWMark: 7},
	}}}
	if diff := cmp.Diff(want, cfg.VirtualServerGroups, cmpOpts); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if cfg.VirtualServers[0].Group != "web" {
		t.Errorf("group = %q, want web", cfg.VirtualServers[0].Group)
	}
	_, _, err := parseString(t, "virtual_server_group g {\n 10.0.0.20-10 80\n}\n", nil)
	if diff := cmp.Diff([]string{`t.conf:2: virtual_server_group: invalid address range "10.0.0.20-10"`}, errStrings(err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestServerPorts: keepalived's port rules for port-less real and sorry
// servers (check_data.c validate_check_config), and the connect_port a
// port-less server's checker needs.
func TestServerPorts(t *testing.T) {
	tests := []struct {
		name, src string
		want      []uint16 // real server ports, then the sorry server's
		warns     []string
		err       string
	}{
		{
			name: "NAT: port-less servers take the virtual server's port",
			src: `virtual_server 10.0.0.1 80 {
    sorry_server 10.0.0.9
    real_server 10.0.0.2 {
    }
    real_server 10.0.0.3 8080 {
    }
}`,
			want: []uint16{80, 8080, 80},
		},
		{
			name: "NAT fwmark: port-less stays port-less, a port is kept",
			src: `virtual_server fwmark 5 {
    sorry_server 10.0.0.9
    real_server 10.0.0.2 {
    }
    real_server 10.0.0.3 8080 {
    }
}`,
			want: []uint16{0, 8080, 0},
		},
		{
			name: "DR fwmark: a port is cleared",
			src: `virtual_server fwmark 5 {
    lb_kind DR
    sorry_server 10.0.0.9 81
    real_server 10.0.0.2 80 {
    }
}`,
			want:  []uint16{0, 0},
			warns: []string{"t.conf:4: real_server 10.0.0.2: lb_kind DR on a fwmark virtual_server cannot use port 80; cleared, as keepalived does", "t.conf:3: sorry_server 10.0.0.9: lb_kind DR on a fwmark virtual_server cannot use port 81; cleared, as keepalived does"},
		},
		{
			name: "DR: the virtual server's port",
			src: `virtual_server 10.0.0.1 80 {
    lb_kind DR
    real_server 10.0.0.2 {
    }
    real_server 10.0.0.3 8080 {
    }
}`,
			want:  []uint16{80, 80},
			warns: []string{"t.conf:5: real_server 10.0.0.3: lb_kind DR cannot change the port; 8080 reset to the virtual server's 80, as keepalived does"},
		},
		{
			name: "port 0 is no port",
			src: `virtual_server 10.0.0.1 80 {
    real_server 10.0.0.2 0 {
    }
}`,
			want: []uint16{80},
		},
		{
			name: "TCP_CHECK on a port-less server needs connect_port",
			src: `virtual_server 10.0.0.1 80 {
    real_server 10.0.0.2 {
        TCP_CHECK {
        }
    }
}`,
			err: "t.conf:3: TCP_CHECK: real_server 10.0.0.2 has no port: set connect_port",
		},
		{
			name: "too many arguments",
			src: `virtual_server 10.0.0.1 80 {
    real_server 10.0.0.2 80 x {
    }
}`,
			err: "t.conf:2: real_server needs IP [PORT]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warns, err := parseString(t, tt.src, nil)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			vs := cfg.VirtualServers[0]
			var got []uint16
			for _, rs := range vs.RealServers {
				got = append(got, rs.Port)
			}
			if vs.SorryServer != nil {
				got = append(got, vs.SorryServer.Port)
			}
			var gotWarns []string
			for _, w := range warns {
				gotWarns = append(gotWarns, w.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warns, gotWarns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestL4Checkers(t *testing.T) {
	cfg, warns := mustParse(t, `virtual_server 10.0.0.1 25 {
    real_server 10.0.0.2 25 {
        PING_CHECK {
            connect_ip 10.0.1.2
            connect_timeout 2
            retry 3
        }
        UDP_CHECK {
            connect_port 53
            payload Ab12f 3 456
            require_reply 12 3X xx
            min_reply_length 2
            max_reply_length 512
        }
        UDP_CHECK {
            connect_port 53
        }
        SMTP_CHECK {
            helo_name "lb1.example"
        }
        SMTP_CHECK {
        }
    }
}`)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	cks := cfg.VirtualServers[0].RealServers[0].Checkers
	type l4 struct {
		Kind                 string
		IP                   string
		Port                 uint16
		Timeout              time.Duration
		Retry                int
		Payload, Reply, Mask []byte
		Require              bool
		Min, Max             int
		Helo                 string
	}
	var got []l4
	for _, c := range cks {
		got = append(got, l4{c.Kind, c.ConnectIP.String(), c.ConnectPort, c.ConnectTimeout, c.Retry,
			c.UDPPayload, c.UDPReply, c.UDPReplyMask, c.UDPRequireReply, c.UDPMinReply, c.UDPMaxReply, c.SMTPHelo})
	}
	want := []l4{
		{Kind: CheckPing, IP: "10.0.1.2", Port: 25, Timeout: 2 * time.Second, Retry: 3},
		{Kind: CheckUDP, IP: "10.0.0.2", Port: 53, Timeout: 5 * time.Second, Retry: 1,
			// keepalived.conf(5)'s example: "Ab12f 3 456" is AB 12 0F 03 45 06.
			Payload: []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06},
			Reply:   []byte{0x12, 0x30, 0x00}, Mask: []byte{0, 0x0f, 0xff}, Require: true, Min: 2, Max: 512},
		{Kind: CheckUDP, IP: "10.0.0.2", Port: 53, Timeout: 5 * time.Second, Retry: 1, Max: 255},
		{Kind: CheckSMTP, IP: "10.0.0.2", Port: 25, Timeout: 5 * time.Second, Retry: 1, Helo: "lb1.example"},
		{Kind: CheckSMTP, IP: "10.0.0.2", Port: 25, Timeout: 5 * time.Second, Retry: 1, Helo: DefaultSMTPHelo},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checkers (-want +got):\n%s", diff)
	}
}

func TestL4CheckerErrors(t *testing.T) {
	tests := []struct{ name, body, err string }{
		{"bad hex", "UDP_CHECK {\n payload 12zz\n }", `t.conf:4: payload: invalid hex string "12zz"`},
		{"wildcard in payload", "UDP_CHECK {\n payload 1x\n }", `t.conf:4: payload: invalid hex string "1x"`},
		{"min > max", "UDP_CHECK {\n min_reply_length 10\n max_reply_length 5\n }", "t.conf:4: UDP_CHECK min_reply_length 10 > max_reply_length 5: the check would always fail"},
		{"port-less UDP", "UDP_CHECK {\n }", "t.conf:3: UDP_CHECK: real_server 10.0.0.2 has no port: set connect_port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := " 53"
			if tt.name == "port-less UDP" {
				port = ""
			}
			src := "virtual_server fwmark 1 {\n real_server 10.0.0.2" + port + " {\n " + tt.body + "\n }\n}\n"
			_, _, err := parseString(t, src, nil)
			if err == nil || err.Error() != tt.err {
				t.Errorf("err = %v, want %s", err, tt.err)
			}
		})
	}
	// A keyword of another kind is ignored there (and fails vipd -t).
	_, warns, err := parseString(t, "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n TCP_CHECK {\n helo_name x\n }\n }\n}\n", nil)
	if err != nil || len(warns) != 1 || warns[0].String() != `t.conf:4: "helo_name" in TCP_CHECK: a keepalived keyword vipd does not implement here; ignored (keepalived would change where VIPs or traffic go with it: vipd -t fails)` {
		t.Errorf("warns = %q, err = %v", warns, err)
	}
}

// TestFileCheckWeight: FILE_CHECK's weight defaults to its track file's,
// with its reverse (check_file.c file_end_handler); its own may be any
// IPVS weight offset, with reverse or noreverse.
func TestFileCheckWeight(t *testing.T) {
	cfg, warns := mustParse(t, `vrrp_track_file tf {
    file /run/x
    weight -3 reverse
}
virtual_server 10.0.0.1 80 {
    real_server 10.0.0.2 80 {
        FILE_CHECK {
            track_file tf
        }
        FILE_CHECK {
            track_file tf
            weight 1000 noreverse
        }
        FILE_CHECK {
            track_file tf
            weight 0 reverse
        }
    }
}`)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	type fc struct {
		Path    string
		Weight  int
		Reverse bool
	}
	var got []fc
	for _, ck := range cfg.VirtualServers[0].RealServers[0].Checkers {
		got = append(got, fc{ck.FilePath, ck.FileWeight, ck.FileReverse})
	}
	want := []fc{{"/run/x", -3, true}, {"/run/x", 1000, false}, {"/run/x", 0, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, _, err := parseString(t, "vrrp_track_file tf {\n file /x\n}\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n FILE_CHECK {\n track_file tf\n weight 2 sideways\n }\n }\n}\n", nil)
	if err == nil || err.Error() != `t.conf:8: weight: "sideways": want reverse or noreverse` {
		t.Errorf("err = %v", err)
	}
}

// keepalived's deprecated SMTP_CHECK host blocks: one checker per host;
// the first host replaces the block's own target when the block sets no
// connection option.
func TestSMTPHostBlocks(t *testing.T) {
	src := func(own string) string {
		return "virtual_server 10.0.0.1 25 {\n lb_kind NAT\n real_server 10.0.0.2 25 {\n SMTP_CHECK {\n helo_name h.example\n" + own +
			" host {\n connect_ip 10.0.0.3\n }\n host {\n connect_ip 10.0.0.4\n connect_port 2525\n }\n }\n }\n}\n"
	}
	targets := func(cfg *Config) []string {
		var out []string
		for _, ck := range cfg.VirtualServers[0].RealServers[0].Checkers {
			out = append(out, fmt.Sprintf("%s:%d %s", ck.ConnectIP, ck.ConnectPort, ck.SMTPHelo))
		}
		return out
	}
	cfg, warns := mustParse(t, src(""))
	if diff := cmp.Diff([]string{"10.0.0.3:25 h.example", "10.0.0.4:2525 h.example"}, targets(cfg)); diff != "" {
		t.Errorf("hosts only (-want +got):\n%s", diff)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "deprecated") {
		t.Errorf("warnings %q, want the deprecation", warns)
	}
	cfg, _ = mustParse(t, src(" connect_port 587\n"))
	if diff := cmp.Diff([]string{"10.0.0.2:587 h.example", "10.0.0.3:25 h.example", "10.0.0.4:2525 h.example"}, targets(cfg)); diff != "" {
		t.Errorf("own target plus hosts (-want +got):\n%s", diff)
	}
}
