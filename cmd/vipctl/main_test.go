package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vipctl check -i selects keepalived's "@ID" conditional lines, as vipd -i.
func TestCheckConfigID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.conf")
	conf := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n" +
		"@high priority 170\n@low priority 300\n virtual_ipaddress {\n 10.0.0.1/24\n }\n}\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id      string
		wantErr string
	}{
		{"high", ""},
		{"low", path + ":5: priority 300 out of range 1..255"},
	} {
		t.Run(tt.id, func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := newRoot(&out, &errOut)
			root.SetArgs([]string{"check", "-f", path, "-i", tt.id})
			err := root.Execute()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("check: %v", err)
			case tt.wantErr == "" && !strings.Contains(out.String(), "configuration OK"):
				t.Errorf("output %q, want configuration OK", out.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("check: %v, want %q", err, tt.wantErr)
			}
		})
	}
}
