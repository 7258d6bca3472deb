package track

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rules of keepalived's check_script_secure, on real files (the tests
// run as root, which owns what they create).
func TestCheckScript(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create root-owned and foreign-owned files")
	}
	dir := t.TempDir() // 0700 root, under /tmp (1777 root: sticky, fine)
	script := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	inOpen := filepath.Join(open, "s.sh")
	if err := os.WriteFile(inOpen, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sticky := filepath.Join(dir, "sticky")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	inSticky := filepath.Join(sticky, "s.sh")
	if err := os.WriteFile(inSticky, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := script("foreign.sh", 0o755)
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sh")
	if err := os.Symlink(inOpen, link); err != nil {
		t.Fatal(err)
	}
	root := RunAs{}
	nobody := RunAs{UID: 65534, GID: 65534}
	tests := []struct {
		name     string
		cmd      string
		who      RunAs
		security bool
		disabled string // substring; "" runs
		insecure bool
	}{
		{name: "root-owned 0755 runs", cmd: script("ok.sh", 0o755) + " arg", who: root, security: true},
		{name: "a bare name is found in PATH", cmd: "true", who: root, security: true},
		{name: "missing", cmd: filepath.Join(dir, "nope.sh"), who: root, security: true, disabled: "cannot be accessed"},
		{name: "missing bare name", cmd: "no-such-command-vipd", who: root, disabled: "cannot find script"},
		{name: "not executable", cmd: script("noexec.sh", 0o644), who: root, disabled: "not executable"},
		{name: "world-writable script, security on", cmd: script("ww.sh", 0o777), who: root, security: true, disabled: "writable by everyone", insecure: true},
		{name: "world-writable script, security off: warned", cmd: script("ww2.sh", 0o777), who: root, insecure: true},
		{name: "group-writable script of a non-root group", cmd: func() string {
			p := script("gw.sh", 0o775)
			if err := os.Chown(p, 0, 65534); err != nil {
				t.Fatal(err)
			}
			return p
		}(), who: root, security: true, disabled: "writable by group", insecure: true},
		{name: "world-writable directory", cmd: inOpen, who: root, security: true, disabled: "writable by everyone", insecure: true},
		{name: "sticky world-writable directory is fine", cmd: inSticky, who: root, security: true},
		{name: "owned by another user", cmd: foreign, who: root, security: true, disabled: "owned by uid 65534", insecure: true},
		{name: "a symlink's target path is checked too", cmd: link, who: root, security: true, disabled: "writable by everyone", insecure: true},
		{name: "not run by root: no path check", cmd: script("ww3.sh", 0o777), who: nobody, security: true},
		{name: "not executable for its user", cmd: script("rootonly.sh", 0o700), who: nobody, disabled: "not executable for uid:gid 65534:65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckScript(tt.cmd, tt.who, tt.security)
			if (tt.disabled == "") != (got.Disabled == "") || !strings.Contains(got.Disabled, tt.disabled) {
				t.Errorf("Disabled = %q, want %q", got.Disabled, tt.disabled)
			}
			if tt.insecure != (got.Insecure != "") {
				t.Errorf("Insecure = %q, want insecure %v", got.Insecure, tt.insecure)
			}
		})
	}
}
