package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseErrors checks that broken configurations are rejected with
// exact "file:line: message" errors, all of them, not just the first.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		files mapFS
		want  []string
	}{
		{
			name: "vrid 0",
			src:  instanceSrc("    virtual_router_id 0\n"),
			want: []string{"t.conf:7: virtual_router_id 0 out of range 1..255"},
		},
		{
			name: "vrid 256",
			src:  instanceSrc("    virtual_router_id 256\n"),
			want: []string{"t.conf:7: virtual_router_id 256 out of range 1..255"},
		},
		{
			name: "vrid not a number",
			src:  instanceSrc("    virtual_router_id fifty\n"),
			want: []string{`t.conf:7: virtual_router_id: invalid number "fifty"`},
		},
		{
			name: "priority 0",
			src:  instanceSrc("    priority 0\n"),
			want: []string{"t.conf:7: priority 0 out of range 1..255"},
		},
		{
			name: "priority 300",
			src:  instanceSrc("    priority 300\n"),
			want: []string{"t.conf:7: priority 300 out of range 1..255"},
		},
		{
			name: "advert_int out of range",
			src:  instanceSrc("    advert_int 300\n"),
			want: []string{"t.conf:7: advert_int 300 out of range 0.01..255"},
		},
		{
			name: "duplicate vrid on the same interface",
			src:  instanceSrc("") + "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 192.168.1.101\n }\n}\n",
			want: []string{`t.conf:10: virtual_router_id 51 on eth0 (IPv4) already used by vrrp_instance "VI_1" at t.conf:3`},
		},
		{
			name: "duplicate vrid for unicast with a shared peer",
			src: "vrrp_instance A {\n interface eth0\n virtual_router_id 9\n unicast_peer {\n 10.0.0.2\n }\n virtual_ipaddress {\n 10.0.0.100\n }\n}\n" +
				"vrrp_instance B {\n interface eth0\n virtual_router_id 9\n unicast_peer {\n 10.0.0.3\n 10.0.0.2\n }\n virtual_ipaddress {\n 10.0.0.101\n }\n}\n",
			want: []string{`t.conf:13: virtual_router_id 9 on eth0 (IPv4) already used by vrrp_instance "A" at t.conf:3`},
		},
		{
			name: "undefined track_script",
			src:  instanceSrc("    track_script {\n        chk_nothere\n    }\n"),
			want: []string{`t.conf:8: track_script "chk_nothere" is not a defined vrrp_script`},
		},
		{
			name: "sync group with an undefined instance",
			src:  instanceSrc("") + "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_9\n    }\n}\n",
			want: []string{`t.conf:9: vrrp_sync_group "G1": "VI_9" is not a defined vrrp_instance`},
		},
		{
			name: "bad VIP",
			src:  "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.168.1.300/24\n    }\n}\n",
			want: []string{`t.conf:5: virtual_ipaddress: invalid address "192.168.1.300/24"`},
		},
		{
			name: "missing interface and vrid",
			src:  "vrrp_instance VI_1 {\n    virtual_ipaddress {\n        192.168.1.1\n    }\n}\n",
			want: []string{
				`t.conf:1: vrrp_instance "VI_1" has no interface`,
				`t.conf:1: vrrp_instance "VI_1" has no virtual_router_id`,
			},
		},
		{
			name: "unclosed brace at EOF",
			src:  "global_defs {\n    router_id a\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n",
			want: []string{`t.conf:4: missing "}" for block "vrrp_instance" opened here`},
		},
		{
			name: "unbalanced closing brace",
			src:  instanceSrc("") + "}\n",
			want: []string{`t.conf:8: unexpected "}"`},
		},
		{
			name: "unterminated quote",
			src:  "vrrp_script s {\n    script \"/bin/true\n}\n",
			// A quote never spans lines, so the block still closes.
			want: []string{"t.conf:2: unterminated quoted string"},
		},
		{
			name: "include of a missing file",
			src:  "include other.conf\n",
			want: []string{`t.conf:1: include "other.conf": no such file`},
		},
		{
			name:  "include cycle",
			src:   "include t.conf\n",
			files: mapFS{"t.conf": "include t.conf\n"},
			want:  []string{`t.conf:1: include "t.conf": t.conf includes itself`},
		},
		{
			name: "several errors are all reported",
			src:  instanceSrc("    priority 0\n    advert_int x\n    state MASTER\n    track_script {\n        nope weight 300\n    }\n"),
			want: []string{
				"t.conf:7: priority 0 out of range 1..255",
				`t.conf:8: advert_int: invalid number of seconds "x"`,
				"t.conf:11: track_script nope: weight 300 out of range -253..253",
				`t.conf:11: track_script "nope" is not a defined vrrp_script`,
			},
		},
		{
			name: "blocks nested too deep",
			src:  strings.Repeat("a {\n", 60) + strings.Repeat("}\n", 60),
			want: []string{"t.conf:51: blocks nested more than 50 deep"},
		},
		{
			name:  "includes that include each other are bounded",
			src:   "include *.inc\n",
			files: mapFS{"a.inc": "include *.inc\n", "b.inc": "include *.inc\n", "c.inc": "include *.inc\n", "d.inc": "include *.inc\n", "e.inc": "include *.inc\n", "f.inc": "include *.inc\n", "g.inc": "include *.inc\n"},
			want:  []string{`f.inc:1: include "*.inc": more than 1000 files included`},
		},
		{
			name: "duplicate names",
			src:  "vrrp_script a {\n script x\n}\nvrrp_script a {\n script y\n}\n",
			want: []string{`t.conf:4: duplicate vrrp_script "a" (first at t.conf:1)`},
		},
		{
			name: "vrrp_script without script",
			src:  "vrrp_script a {\n interval 2\n}\n",
			want: []string{`t.conf:1: vrrp_script "a" has no script`},
		},
		{
			name: "script weight out of range",
			src:  "vrrp_script a {\n script x\n weight -254\n}\n",
			want: []string{"t.conf:3: weight -254 out of range -253..253"},
		},
		{
			name: "bad auth_type",
			src:  instanceSrc("    authentication {\n        auth_type MD5\n    }\n"),
			want: []string{`t.conf:8: auth_type "MD5": want PASS`},
		},
		{
			name: "auth_type AH is refused, not silently unauthenticated",
			src:  instanceSrc("    authentication {\n        auth_type AH\n        auth_pass x\n    }\n"),
			want: []string{`t.conf:8: auth_type AH is not supported: RFC 3768 removed IPsec AH authentication and vipd does not implement it; use auth_type PASS (VRRPv2) or none`},
		},
		{
			name: "instance without a block",
			src:  "vrrp_instance VI_1\n",
			want: []string{"t.conf:1: vrrp_instance needs a { } block"},
		},
		{
			name: "mixed-family unicast peer",
			src:  instanceSrc("    unicast_peer {\n        2001:db8::1\n    }\n"),
			want: []string{`t.conf:1: vrrp_instance "VI_1": address 2001:db8::1 is not IPv4 like its VIPs`},
		},
		{
			name: "strict mode forbids unicast",
			src:  "global_defs {\n vrrp_strict\n}\n" + instanceSrc("    unicast_peer {\n        192.168.1.2\n    }\n"),
			want: []string{"t.conf:10: unicast_peer is not allowed in strict mode"},
		},
		{
			name: "virtual_server errors",
			src: "virtual_server 10.0.0.1 80 {\n lb_kind XX\n protocol ICMP\n real_server 10.0.0.2 http {\n }\n real_server 10.0.0.3 80 {\n HTTP_GET {\n }\n MISC_CHECK {\n }\n }\n}\n" +
				"virtual_server group nogroup {\n}\n",
			want: []string{
				`t.conf:2: lb_kind "XX": want NAT, DR or TUN`,
				`t.conf:3: protocol "ICMP": want TCP, UDP or SCTP`,
				`t.conf:4: real_server: invalid port "http"`,
				"t.conf:7: HTTP_GET needs at least one url block",
				"t.conf:9: MISC_CHECK needs misc_path",
				`t.conf:13: virtual_server group "nogroup" is not a defined virtual_server_group`,
			},
		},
		{
			name: "bad global values",
			src:  "global_defs {\n vrrp_version 4\n lb_dataplane xdp\n metrics_listen localhost\n vrrp_mcast_group4 10.0.0.1\n}\n",
			want: []string{
				"t.conf:2: vrrp_version 4 out of range 2..3",
				`t.conf:3: lb_dataplane "xdp": want auto, ipvs or nftables`,
				`t.conf:4: metrics_listen: invalid ADDR:PORT "localhost"`,
				"t.conf:5: vrrp_mcast_group4 10.0.0.1 is not an IPv4 multicast address",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseString(t, tt.src, tt.files)
			if err == nil {
				t.Fatal("parse: got nil error")
			}
			if cfg != nil {
				t.Error("parse: got a Config along with errors")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			if diff := cmp.Diff(tt.want, errStrings(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var one *Error
			if !errors.As(err, &one) || one.Error() != tt.want[0] {
				t.Errorf("errors.As(*Error) = %v, want %q", one, tt.want[0])
			}
		})
	}
}

// TestGARPErrors pins the errors of the GARP keywords in both spellings
// (vrrp_instance's and global_defs' "vrrp_" one): same bounds, same
// messages, each at its own line.
func TestGARPErrors(t *testing.T) {
	bad := []struct{ key, val, msg string }{
		{"garp_master_delay", "1001", "garp_master_delay 1001 out of range 0..1000"},
		{"garp_master_delay", "-1", "garp_master_delay -1 out of range 0..1000"},
		{"garp_master_repeat", "0", "garp_master_repeat 0 out of range 1..1000"},
		{"garp_master_repeat", "1001", "garp_master_repeat 1001 out of range 1..1000"},
		{"garp_master_refresh", "86401", "garp_master_refresh 86401 out of range 0..86400"},
		{"garp_master_refresh_repeat", "0", "garp_master_refresh_repeat 0 out of range 1..1000"},
		{"garp_interval", "1.5", "garp_interval 1.5 out of range 0..1"},
		{"garp_interval", "x", `garp_interval: invalid number of seconds "x"`},
		{"gna_interval", "2", "gna_interval 2 out of range 0..1"},
		{"garp_lower_prio_delay", "1001", "garp_lower_prio_delay 1001 out of range 0..1000"},
		{"garp_lower_prio_repeat", "1001", "garp_lower_prio_repeat 1001 out of range 1..1000"},
		{"garp_lower_prio_repeat", "", "garp_lower_prio_repeat needs a value"},
	}
	for _, b := range bad {
		t.Run("vrrp_instance "+b.key+" "+b.val, func(t *testing.T) {
			_, _, err := parseString(t, instanceSrc("    "+b.key+" "+b.val+"\n"), nil)
			if diff := cmp.Diff([]string{"t.conf:7: " + b.msg}, errStrings(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
		t.Run("global_defs vrrp_"+b.key+" "+b.val, func(t *testing.T) {
			src := instanceSrc("") + "global_defs {\n    router_id r1\n    vrrp_" + b.key + " " + b.val + "\n}\n"
			_, _, err := parseString(t, src, nil)
			if diff := cmp.Diff([]string{"t.conf:10: vrrp_" + b.msg}, errStrings(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
