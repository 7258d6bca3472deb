package vrrp

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
)

// enable_script_security disables an insecure track script as keepalived
// does: the instances stop tracking it. Without it, the script runs and
// the SECURITY VIOLATION line says why it should not.
func TestVetScripts(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the scripts run as root and must be root-owned")
	}
	dir := t.TempDir()
	ww := filepath.Join(dir, "ww.sh")
	if err := os.WriteFile(ww, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ww, 0o777); err != nil {
		t.Fatal(err)
	}
	src := func(security string) string {
		return "global_defs {\n script_user root\n" + security + "}\n" +
			"vrrp_script chk {\n script \"" + ww + "\"\n}\n" +
			"vrrp_script ok {\n script \"/bin/true\"\n}\n" +
			"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1/24\n }\n" +
			" track_script {\n chk\n ok\n }\n notify_master \"" + ww + " master\"\n arbiter off\n}\n"
	}
	tracked := func(cfg *config.Config) []string {
		var out []string
		for _, r := range cfg.Instance("VI_1").TrackScripts {
			out = append(out, r.Name)
		}
		return out
	}

	cfg, _, err := config.Parse("t.conf", []byte(src(" enable_script_security\n")))
	if err != nil {
		t.Fatal(err)
	}
	found := VetScripts(cfg)
	if got := tracked(cfg); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("tracked %v with script security, want only ok", got)
	}
	if cfg.Instance("VI_1").NotifyMaster != "" {
		t.Errorf("insecure notify_master kept")
	}
	if len(found) != 2 || !strings.Contains(found[0], "disabling vrrp_script chk: unsafe permissions") {
		t.Errorf("findings %q, want the script and the notify script disabled", found)
	}

	cfg, _, err = config.Parse("t.conf", []byte(src("")))
	if err != nil {
		t.Fatal(err)
	}
	found = VetScripts(cfg)
	if got := tracked(cfg); !slices.Equal(got, []string{"chk", "ok"}) {
		t.Errorf("tracked %v without script security, want both", got)
	}
	if last := found[len(found)-1]; last != "SECURITY VIOLATION - scripts are being executed but script_security not enabled. There are insecure scripts." {
		t.Errorf("last finding %q, want keepalived's SECURITY VIOLATION line", last)
	}
}
