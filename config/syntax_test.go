package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLexer(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []string // words; braces as "{" "}"; quoted words marked with Q:
	}{
		{"plain", "state BACKUP", []string{"state", "BACKUP"}},
		{"trailing bang comment", "state BACKUP ! comment", []string{"state", "BACKUP"}},
		{"trailing hash comment", "nopreempt   # do not take the VIP back", []string{"nopreempt"}},
		{"comment line", "   ! Configuration File", nil},
		{"hash inside quotes", `script "/bin/check # not a comment"`, []string{"script", "Q:/bin/check # not a comment"}},
		{"bang inside quotes", `notify "/bin/x !y"`, []string{"notify", "Q:/bin/x !y"}},
		{"hash inside a word", "auth_pass ab#cd", []string{"auth_pass", "ab#cd"}},
		{"braces split words", "group {VI_1 VI_2}", []string{"group", "{", "VI_1", "VI_2", "}"}},
		{"quoted brace is a word", `x "{"`, []string{"x", "Q:{"}},
		{"escaped quote", `script "a \"b\" c"`, []string{"script", `Q:a "b" c`}},
		{"empty quoted", `x ""`, []string{"x", "Q:"}},
		{"tabs and CR", "\tpriority\t80\r", []string{"priority", "80"}},
		{"special chars", "auth_pass hell>com", []string{"auth_pass", "hell>com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &lexer{fs: mapFS{}}
			var got []string
			for _, tok := range l.line(tt.line, Pos{"t.conf", 1}) {
				s := tok.text
				if tok.quoted {
					s = "Q:" + s
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
			if len(l.errs) > 0 {
				t.Errorf("errors: %v", l.errs)
			}
		})
	}
}

func TestSyntax(t *testing.T) {
	t.Run("brace on the next line and one-line blocks", func(t *testing.T) {
		src := "vrrp_script chk\n{\n    script \"/bin/true # ok\"\n}\n" +
			"vrrp_instance VI_1\n\n{\n    interface eth0\n    virtual_router_id 51\n" +
			"    virtual_ipaddress { 10.0.0.1/24 }\n    track_script\n    {\n        chk weight 5\n    }\n}\n" +
			"vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n virtual_ipaddress { 10.0.0.2 }\n}\n" +
			"vrrp_sync_group G { group { VI_1 VI_2 } sync_group_tracking_weight }\n"
		cfg, warns := mustParse(t, src)
		if len(warns) > 0 {
			t.Errorf("warnings: %q", warns)
		}
		got := []any{cfg.Script("chk").Script, cfg.Instance("VI_1").VIPs[0].Prefix.String(),
			cfg.Instance("VI_1").TrackScripts, cfg.SyncGroup("G").Members, cfg.Instance("VI_2").SyncGroup}
		want := []any{"/bin/true # ok", "10.0.0.1/24",
			[]TrackRef{{Pos: Pos{"t.conf", 13}, Name: "chk", Weight: 5, WeightSet: true}}, []string{"VI_1", "VI_2"}, "G"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("unknown keywords warn with their line and their blocks are skipped", func(t *testing.T) {
		src := instanceSrc("    frobnicate 3\n    mystery_block {\n        priority 7\n        nested { x }\n    }\n    priority 90\n") +
			"weird_top {\n  vrrp_instance X {\n  }\n}\n"
		cfg, warns := mustParse(t, src)
		want := []string{
			`t.conf:7: unknown keyword "frobnicate" in vrrp_instance`,
			`t.conf:8: unknown keyword "mystery_block" in vrrp_instance`,
			`t.conf:14: unknown keyword "weird_top" at top level`,
		}
		if diff := cmp.Diff(want, warns); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
		if got := cfg.Instance("VI_1").Priority; got != 90 {
			t.Errorf("priority = %d, want 90 (the skipped block's priority must not apply)", got)
		}
		if len(cfg.Instances) != 1 {
			t.Errorf("got %d instances, want 1", len(cfg.Instances))
		}
	})
	t.Run("state is case-insensitive", func(t *testing.T) {
		for _, s := range []string{"backup", "Backup", "BACKUP"} {
			cfg, _ := mustParse(t, instanceSrc("    state "+s+"\n"))
			if got := cfg.Instance("VI_1").State; got != StateBackup {
				t.Errorf("state %s = %q, want BACKUP", s, got)
			}
		}
		cfg, warns := mustParse(t, instanceSrc("    state SLAVE\n"))
		if got := cfg.Instance("VI_1").State; got != StateBackup {
			t.Errorf("state SLAVE = %q, want BACKUP", got)
		}
		if diff := cmp.Diff([]string{`t.conf:7: unknown state "SLAVE", using BACKUP`}, warns); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("unquoted and quoted commands mean the same", func(t *testing.T) {
		cfg, _ := mustParse(t, instanceSrc("    notify_master /bin/n.sh master  ! note\n    notify_backup \"/bin/n.sh backup\"\n"))
		in := cfg.Instance("VI_1")
		if diff := cmp.Diff([]string{"/bin/n.sh master", "/bin/n.sh backup"}, []string{in.NotifyMaster, in.NotifyBackup}); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	main := write("keepalived.conf", "global_defs {\n  router_id r1\n}\ninclude conf.d/*.conf\ninclude empty.d/*.conf\n"+
		"vrrp_instance VI_3 {\n  include parts/common.inc\n  virtual_router_id 3\n  virtual_ipaddress {\n    10.0.0.3\n  }\n}\n")
	write("conf.d/a.conf", "vrrp_script chk {\n  script /bin/true\n}\n")
	write("conf.d/b.conf", "vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress {\n    10.0.0.2\n  }\n  track_script {\n    chk\n  }\n  bogus 1\n}\n")
	write("conf.d/sub/ignored.conf", "this is not matched by the glob\n")
	write("parts/common.inc", "interface eth1\n")
	if err := os.Mkdir(filepath.Join(dir, "empty.d"), 0o755); err != nil {
		t.Fatal(err)
	}

	cfg, warns, err := Load(main)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{
		main + `:5: include "empty.d/*.conf" matched no files`,
		filepath.Join(dir, "conf.d/b.conf") + `:10: unknown keyword "bogus" in vrrp_instance`,
	}
	if diff := cmp.Diff(want, warnStrings(warns)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	got := []any{cfg.Global.RouterID, len(cfg.Scripts), cfg.Instance("VI_2").Pos, cfg.Instance("VI_3").Interface}
	wantVals := []any{"r1", 1, Pos{filepath.Join(dir, "conf.d/b.conf"), 1}, "eth1"}
	if diff := cmp.Diff(wantVals, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	t.Run("a glob matching the including file skips it", func(t *testing.T) {
		// The file is named relatively and the glob absolutely: both must
		// be recognised as the same file.
		write("self/main.conf", "include "+filepath.Join(dir, "self")+"/*.conf\nvrrp_script s {\n  script /bin/true\n}\n")
		write("self/other.conf", "vrrp_script o {\n  script /bin/true\n}\n")
		t.Chdir(dir)
		cfg, _, err := Load("self/main.conf")
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if len(cfg.Scripts) != 2 {
			t.Errorf("got %d scripts, want 2 (main.conf read once)", len(cfg.Scripts))
		}
	})
	t.Run("errors name the included file", func(t *testing.T) {
		write("bad/x.conf", "vrrp_instance VI_9 {\n  interface eth0\n  virtual_router_id 999\n}\n")
		p := write("top.conf", "include bad/*.conf\n")
		_, _, err := Load(p)
		want := []string{filepath.Join(dir, "bad/x.conf") + ":3: virtual_router_id 999 out of range 1..255"}
		if diff := cmp.Diff(want, errStrings(err)); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
}
