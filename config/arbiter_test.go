package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestArbiter(t *testing.T) {
	src := `arbiter {
    etcd {
        endpoints https://10.0.0.1:2379 https://10.0.0.2:2379
        endpoints {
            https://10.0.0.3:2379
        }
        lease_ttl 5
        prefix /ha
        username vipd
        password "s3cr#t"
        tls {
            ca /etc/vipd/ca.pem
            cert /etc/vipd/c.pem
            key /etc/vipd/c.key
        }
    }
    gateway 10.0.0.254
    gateway {
        10.0.1.254 10.0.2.254
        interval 0.5
        fall 4
        rise 1
    }
    memberlist {
        bind 10.0.0.11:7946
        join 10.0.0.12:7946 node3.example:7946
        secret_file /etc/vipd/gossip.key
    }
    on_etcd_loss release
    embedded_etcd {
        name n1
        data_dir /var/lib/vipd/etcd
        peer_url http://10.0.0.11:2380
        client_url http://10.0.0.11:2379
        initial_cluster n1=http://10.0.0.11:2380 n2=http://10.0.0.12:2380
    }
}
`
	cfg, warns := mustParse(t, src)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	a := netip.MustParseAddr
	want := &Arbiter{
		Pos: Pos{"t.conf", 1},
		Etcd: &Etcd{Pos: Pos{"t.conf", 2},
			Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"},
			LeaseTTL:  5 * time.Second, Prefix: "/ha", Username: "vipd", Password: "s3cr#t",
			TLS: &TLS{Pos: Pos{"t.conf", 11}, CA: "/etc/vipd/ca.pem", Cert: "/etc/vipd/c.pem", Key: "/etc/vipd/c.key"}},
		Gateways:        []netip.Addr{a("10.0.0.254"), a("10.0.1.254"), a("10.0.2.254")},
		GatewayInterval: 500 * time.Millisecond, GatewayFall: 4, GatewayRise: 1,
		Memberlist: &Memberlist{Pos: Pos{"t.conf", 24}, Bind: netip.MustParseAddrPort("10.0.0.11:7946"),
			Join: []string{"10.0.0.12:7946", "node3.example:7946"}, SecretFile: "/etc/vipd/gossip.key"},
		OnEtcdLoss: OnEtcdLossRelease,
		EmbeddedEtcd: &EmbeddedEtcd{Pos: Pos{"t.conf", 30}, Name: "n1", DataDir: "/var/lib/vipd/etcd",
			PeerURL: "http://10.0.0.11:2380", ClientURL: "http://10.0.0.11:2379",
			InitialCluster: []string{"n1=http://10.0.0.11:2380", "n2=http://10.0.0.12:2380"}},
	}
	if diff := cmp.Diff(want, cfg.Arbiter, cmpOpts); diff != "" {
		t.Errorf("arbiter (-want +got):\n%s", diff)
	}
}

func TestArbiterDefaults(t *testing.T) {
	cfg, _ := mustParse(t, "arbiter {\n etcd {\n  endpoints http://127.0.0.1:2379\n }\n memberlist {\n }\n}\n")
	a := cfg.Arbiter
	got := []any{a.Etcd.LeaseTTL, a.Etcd.Prefix, a.OnEtcdLoss, a.GatewayInterval, a.GatewayFall, a.GatewayRise, a.Memberlist.Bind.String()}
	want := []any{5 * time.Second, "/vipd", "release", time.Second, 3, 2, "0.0.0.0:7946"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	cfg, _ = mustParse(t, "vrrp_instance A {\n interface e\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n")
	if cfg.Arbiter != nil {
		t.Errorf("Arbiter = %+v without an arbiter block, want nil", cfg.Arbiter)
	}
}

func TestArbiterErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "lease_ttl too short and bad endpoint",
			src:  "arbiter {\n etcd {\n  endpoints 10.0.0.1:2379 ftp://x\n  lease_ttl 1\n }\n}\n",
			want: []string{
				`t.conf:3: endpoints: invalid URL "10.0.0.1:2379", want http(s)://host:port`,
				`t.conf:3: endpoints: invalid URL "ftp://x", want http(s)://host:port`,
				"t.conf:4: lease_ttl 1 out of range 4..3600",
				"t.conf:2: etcd needs endpoints",
			},
		},
		{
			name: "no etcd",
			src:  "arbiter {\n gateway 10.0.0.1\n}\n",
			want: []string{"t.conf:1: arbiter needs an etcd or embedded_etcd block"},
		},
		{
			name: "bad gateway, policy and memberlist",
			src:  "arbiter {\n etcd {\n  endpoints http://e:2379\n }\n gateway 10.0.0.300\n on_etcd_loss pray\n memberlist {\n  bind :7946\n  join nohost\n }\n}\n",
			want: []string{
				`t.conf:5: gateway: invalid IP address "10.0.0.300"`,
				`t.conf:6: on_etcd_loss "pray": want release or keep`,
				`t.conf:8: bind: invalid ADDR:PORT ":7946"`,
				`t.conf:9: join: invalid HOST:PORT "nohost"`,
			},
		},
		{
			name: "duplicate arbiter",
			src:  "arbiter {\n etcd {\n  endpoints http://e:2379\n }\n}\narbiter {\n}\n",
			want: []string{"t.conf:6: duplicate arbiter block (first at t.conf:1)"},
		},
		{
			name: "bad arbiter off value",
			src:  instanceSrc("    arbiter maybe\n"),
			want: []string{`t.conf:7: arbiter "maybe": want on or off`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseString(t, tt.src, nil)
			if diff := cmp.Diff(tt.want, errStrings(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOnEtcdLossKeepRejected(t *testing.T) {
	_, _, err := Parse("t.conf", []byte("arbiter {\n etcd {\n  endpoints http://e:2379\n }\n on_etcd_loss keep\n}\n"))
	want := "t.conf:5: on_etcd_loss keep is not supported: a master cut from etcd cannot know whether another node claimed the VIP, so vipd always releases (docs/safety.md)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

// Credentials never go over plain http, and a typo in vipd's own blocks is
// an error, not a warning (a memberlist secret_flie would gossip in clear).
func TestArbiterTrust(t *testing.T) {
	for _, tt := range []struct{ src, err string }{
		{"arbiter {\n etcd {\n endpoints http://10.0.0.1:2379\n tls {\n ca /etc/ca.pem\n }\n }\n}\n", "etcd endpoint http://10.0.0.1:2379 is plain http"},
		{"arbiter {\n etcd {\n endpoints http://10.0.0.1:2379\n username vipd\n password s3cret\n }\n}\n", "etcd endpoint http://10.0.0.1:2379 is plain http"},
		{"arbiter {\n etcd {\n endpoints https://10.0.0.1:2379\n }\n memberlist {\n secret_flie /etc/vipd/gossip.key\n }\n}\n", `unknown keyword "secret_flie" in memberlist`},
	} {
		_, _, err := Parse("t.conf", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
	if _, _, err := Parse("t.conf", []byte("arbiter {\n etcd {\n endpoints https://10.0.0.1:2379\n username vipd\n password s3cret\n }\n}\n")); err != nil {
		t.Errorf("https with a password: %v", err)
	}
}
