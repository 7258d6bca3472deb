package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKeepalivedSamples loads every sample configuration keepalived ships
// (doc/samples, copied verbatim into testdata/keepalived-samples) as
// `vipd -t` does. A sample vipd cannot load yet is listed with its exact
// errors and why: when a fix lands the test fails, and the entry must go.
func TestKeepalivedSamples(t *testing.T) {
	const dir = "testdata/keepalived-samples"
	// configID: keepalived.conf.conditional_conf says to run keepalived
	// with -i high or -i low; the others do not depend on it.
	configID := map[string]string{"keepalived.conf.conditional_conf": "high"}
	expectFail := map[string]struct {
		why  string
		errs []string
	}{
		"keepalived.conf.SSL_GET": {
			why:  "vipd refuses auth_type AH on purpose (docs/config.md)",
			errs: []string{dir + "/keepalived.conf.SSL_GET:20: auth_type AH is not supported: RFC 3768 removed IPsec AH authentication and vipd does not implement it; use auth_type PASS (VRRPv2) or none"},
		},
		"keepalived.conf.vrrp.rules": {
			why: "keepalived's own sample has an invalid address (inet_pton refuses it; keepalived logs the error and drops the rule, vipd refuses the file)",
			errs: []string{dir + `/keepalived.conf.vrrp.rules:11: static_rules: invalid to "192.168.100./24"`,
				dir + `/keepalived.conf.vrrp.rules:26: virtual_rules: invalid to "192.168.200./24"`},
		},
		"keepalived.conf.vrrp.lvs_syncd": {
			why:  "the sample's vrrp_sync_group lists its members without a group { } block",
			errs: []string{dir + `/keepalived.conf.vrrp.lvs_syncd:3: vrrp_sync_group "VG1" has no group members`},
		},
	}
	files, err := filepath.Glob(filepath.Join(dir, "keepalived.conf.*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 25 {
		t.Fatalf("found %d samples, want keepalived's 25", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimPrefix(name, "keepalived.conf."), func(t *testing.T) {
			id, ok := configID[name]
			if !ok {
				id = "vipd-test"
			}
			_, _, err := Load(f, WithConfigID(id))
			if want, ok := expectFail[name]; ok {
				if diff := cmp.Diff(want.errs, errStrings(err)); diff != "" {
					t.Errorf("expected to fail (%s); errors (-want +got):\n%s", want.why, diff)
				}
				return
			}
			if err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestConditionalSample checks that keepalived.conf.conditional_conf picks
// the lines of the config id it is loaded with.
func TestConditionalSample(t *testing.T) {
	for _, tt := range []struct {
		id     string
		script string
		prio   int
	}{
		{"high", "/etc/keepalived/scripts/check_high_VI_0.sh", 170},
		{"low", "/etc/keepalived/scripts/check_low_VI_0.sh", 85},
	} {
		t.Run(tt.id, func(t *testing.T) {
			cfg, warns, err := Load("testdata/keepalived-samples/keepalived.conf.conditional_conf", WithConfigID(tt.id))
			if err != nil {
				t.Fatal(err)
			}
			got := []any{cfg.Script("check_VI_0").Script, cfg.Instance("VI_0").Priority, warnStrings(warns)}
			want := []any{tt.script, tt.prio, []string{
				`testdata/keepalived-samples/keepalived.conf.conditional_conf:3: "net_namespace" is not supported by vipd; ignored (keepalived would change where VIPs or traffic go with it: vipd -t fails)`,
			}}
			if tt.id == "low" {
				want[2].([]string)[0] = strings.Replace(want[2].([]string)[0], ":3:", ":4:", 1)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("another id has no script", func(t *testing.T) {
		_, _, err := Load("testdata/keepalived-samples/keepalived.conf.conditional_conf", WithConfigID("other"))
		want := []string{`testdata/keepalived-samples/keepalived.conf.conditional_conf:6: vrrp_script "check_VI_0" has no script`}
		if diff := cmp.Diff(want, errStrings(err)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
}
