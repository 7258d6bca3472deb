package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
