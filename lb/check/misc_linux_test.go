package check

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/track"
)

func TestMiscCheck(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "check.sh")
	// The script exits with its first argument, or sleeps for "sleep".
	src := "#!/bin/sh\nif [ \"$1\" = sleep ]; then exec sleep 30; fi\nexit \"$1\"\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	rs := netipRS()
	tests := []struct {
		name    string
		arg     string
		dynamic bool
		want    probeOut
	}{
		{"exit 0", "0", false, probeOut{true, "exit 0", -1}},
		{"exit 1", "1", false, probeOut{false, "exit 1", -1}},
		{"exit 5 without misc_dynamic fails", "5", false, probeOut{false, "exit 5", -1}},
		{"dynamic exit 0: configured weight", "0", true, probeOut{true, "exit 0", -1}},
		{"dynamic exit 1: failure", "1", true, probeOut{false, "exit 1", -1}},
		{"dynamic exit 5: weight 3", "5", true, probeOut{true, "exit 5", 3}},
		{"dynamic exit 2: weight 0", "2", true, probeOut{true, "exit 2", 0}},
		{"dynamic exit 255: weight 253", "255", true, probeOut{true, "exit 255", 253}},
		{"timeout", "sleep", false, probeOut{false, "timed_out", -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := &config.Checker{Kind: config.CheckMisc, MiscPath: `"` + script + `" ` + tt.arg,
				MiscTimeout: 300 * time.Millisecond, MiscDynamic: tt.dynamic}
			p, err := NewProber(ck, rs, track.ExecRunner{Grace: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := p.Probe(t.Context())
			t.Logf("%+v in %v", r, time.Since(start))
			if diff := cmp.Diff(tt.want, probeOut{r.OK, r.Detail, r.Weight}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("missing program", func(t *testing.T) {
		ck := &config.Checker{Kind: config.CheckMisc, MiscPath: filepath.Join(dir, "nope"), MiscTimeout: time.Second}
		p, err := NewProber(ck, rs, track.ExecRunner{})
		if err != nil {
			t.Fatal(err)
		}
		if r := p.Probe(t.Context()); r.OK {
			t.Errorf("missing program succeeded: %+v", r)
		}
	})
	t.Run("bad quoting", func(t *testing.T) {
		ck := &config.Checker{Kind: config.CheckMisc, MiscPath: `"unterminated`}
		if _, err := NewProber(ck, rs, track.ExecRunner{}); err == nil {
			t.Error("no error for unterminated quote")
		}
	})
}
