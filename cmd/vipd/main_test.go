package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// vipd -t fails when the configuration uses a keyword keepalived would move
// VIPs or traffic with and vipd ignores; harmless ignored keywords pass.
func TestConfigTestRefusesIgnoredFailoverKeywords(t *testing.T) {
	instance := func(extra string) string {
		return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n priority 100\n" +
			" virtual_ipaddress {\n 10.0.0.1/24\n }\n" + extra + "}\n"
	}
	tests := []struct {
		name, conf string
		code       int
		out        string
	}{
		{"plain", instance(""), 0, "configuration OK"},
		{"harmless: mail", instance(" smtp_alert\n"), 0, "0 ignored keywords that change where VIPs or traffic go, 1 ignored that cannot"},
		{"affecting: track_bfd", instance(" track_bfd {\n b1\n }\n"), 1, "not a drop-in: 1 ignored keywords that change where VIPs or traffic go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			code := run([]string{"-t", "-f", path}, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.out) {
				t.Errorf("exit %d, output %q %q; want exit %d with %q", code, out.String(), errOut.String(), tt.code, tt.out)
			}
		})
	}
}

// A reload cannot change what is set up once at start: it is refused with
// the reason, never silently ignored.
func TestRestartOnly(t *testing.T) {
	parse := func(src string) *config.Config {
		t.Helper()
		cfg, _, err := config.Parse("t.conf", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	arb := func(ep string) string {
		return "arbiter {\n etcd {\n endpoints " + ep + "\n }\n}\n"
	}
	base := parse(arb("http://10.0.0.1:2379"))
	if err := restartOnly(base, parse("\n\n"+arb("http://10.0.0.1:2379")), true); err != nil {
		t.Errorf("the same arbiter block elsewhere in the file: %v", err)
	}
	if err := restartOnly(base, parse(arb("http://10.0.0.2:2379")), true); err == nil || !strings.Contains(err.Error(), "the arbiter block changed") {
		t.Errorf("new etcd endpoints: %v, want refused", err)
	}
	if err := restartOnly(base, parse("global_defs {\n metrics_listen 127.0.0.1:9999\n}\n"+arb("http://10.0.0.1:2379")), true); err == nil || !strings.Contains(err.Error(), "metrics_listen") {
		t.Errorf("new metrics_listen: %v, want refused", err)
	}
	if err := restartOnly(base, parse("global_defs {\n lb_dataplane nftables\n}\n"+arb("http://10.0.0.1:2379")), false); err != nil {
		t.Errorf("lb_dataplane before any plane runs: %v, want allowed", err)
	}
}

// vipd -i/--config-id selects keepalived's "@ID" conditional lines; without
// it the id is the host name's first label, as keepalived's.
func TestConfigTestConfigID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.conf")
	conf := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n" +
		"@high priority 170\n@low priority 300\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-i", "high"}, 0, "configuration OK"},
		{[]string{"--config-id=low"}, 1, path + ":5: priority 300 out of range 1..255"},
		{nil, 0, "configuration OK"}, // the host name is neither high nor low
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if tt.args == nil && config.DefaultConfigID() == "low" {
				t.Skip("this host's config id is low")
			}
			var out, errOut bytes.Buffer
			code := run(append([]string{"-t", "-f", path}, tt.args...), &out, &errOut)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.out) {
				t.Errorf("exit %d, output %q %q; want exit %d with %q", code, out.String(), errOut.String(), tt.code, tt.out)
			}
		})
	}
}

// startup_script and shutdown_script run, waited for up to their timeout.
func TestRunScript(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ran")
	d := &daemon{log: slog.New(slog.DiscardHandler), cfg: &config.Config{}}
	d.runScript("startup_script", config.RunScript{Script: "/bin/sh -c 'echo up > " + out + "'", Timeout: 10 * time.Second})
	if b, err := os.ReadFile(out); err != nil || string(b) != "up\n" {
		t.Errorf("startup_script wrote %q (%v), want up", b, err)
	}
	start := time.Now()
	d.runScript("shutdown_script", config.RunScript{Script: "/bin/sleep 30", Timeout: time.Second})
	if time.Since(start) > 20*time.Second {
		t.Errorf("shutdown_script not stopped at its timeout")
	}
}

// A wrong flag says what is wrong (it used to exit 2 silently); -P leaves
// the load balancer out, as keepalived -P does.
func TestFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--no-such-flag"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown flag: --no-such-flag") {
		t.Errorf("exit %d, stderr %q; want 2 naming the flag", code, errOut.String())
	}
	cfg := &config.Config{VirtualServers: []*config.VirtualServer{{}}}
	if c := (&daemon{opt: options{vrrpOnly: true}}).lbConfig(cfg); len(c.VirtualServers) != 0 || len(cfg.VirtualServers) != 1 {
		t.Errorf("-P: the load balancer gets %d virtual servers (config keeps %d), want 0 (1)", len(c.VirtualServers), len(cfg.VirtualServers))
	}
}
