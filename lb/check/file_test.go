package check

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
)

// TestFileState: keepalived's track_file.c update_track_file_status for a
// checker.
func TestFileState(t *testing.T) {
	type out struct {
		Up     bool
		Offset int
	}
	tests := []struct {
		value, weight int
		reverse       bool
		want          out
	}{
		{0, 0, false, out{true, 0}},
		{1, 0, false, out{false, 0}},
		{-3, 0, false, out{false, 0}},
		{0, 0, true, out{false, 0}},
		{5, 0, true, out{true, 0}},
		{0, 3, false, out{true, 0}},
		{2, 3, false, out{true, 6}},
		{-2, 3, false, out{true, -6}},
		{2, 3, true, out{true, -6}},
		{2, -3, false, out{true, -6}},
		{math.MinInt32, 1, false, out{false, 0}}, // IPVS_WEIGHT_FAULT
		{math.MinInt32 + 1, 1, false, out{true, math.MinInt32 + 1}},
		{1 << 20, 1 << 20, true, out{false, 0}},             // below INT_MIN: clamped to the fault
		{1 << 20, 1 << 20, false, out{true, math.MaxInt32}}, // clamped
	}
	for _, tt := range tests {
		up, off := FileState(tt.value, tt.weight, tt.reverse)
		if diff := cmp.Diff(tt.want, out{up, off}); diff != "" {
			t.Errorf("FileState(%d, %d, %v) (-want +got):\n%s", tt.value, tt.weight, tt.reverse, diff)
		}
	}
}

func TestFileCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rs1")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := NewProber(&config.Checker{Kind: config.CheckFile, FileName: "tf", FilePath: path, FileWeight: 2}, netipRS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		OK     bool
		Detail string
		Offset int
	}
	steps := []struct {
		write string // "" leaves the file as it is; "-" removes it
		want  out
	}{
		{"-", out{true, "missing", 0}},
		{"3\n", out{true, "value 3", 6}},
		{"99999999999999999999", out{true, "invalid number in " + path + "; keeping 3", 6}},
		{"-4", out{true, "value -4", -8}},
		{"-", out{true, "missing", 0}},
	}
	for i, s := range steps {
		switch s.write {
		case "-":
			_ = os.Remove(path)
		case "":
		default:
			write(s.write)
		}
		r := p.Probe(t.Context())
		if diff := cmp.Diff(s.want, out{r.OK, r.Detail, r.Offset}); diff != "" {
			t.Errorf("step %d (%q) (-want +got):\n%s", i, s.write, diff)
		}
	}
	// weight 0: any non-zero value is down.
	p, _ = NewProber(&config.Checker{Kind: config.CheckFile, FileName: "tf", FilePath: path}, netipRS(), nil)
	write("1")
	if r := p.Probe(t.Context()); r.OK || r.Offset != 0 {
		t.Errorf("weight 0, value 1: %+v, want down", r)
	}
}

func TestEffectiveWeightOffsets(t *testing.T) {
	rs := config.RealServer{Weight: 10}
	tests := []struct {
		name string
		st   []Status
		want int
	}{
		{"offset added", []Status{{Up: true, Weight: -1, Offset: 6}}, 16},
		{"two offsets", []Status{{Up: true, Weight: -1, Offset: 6}, {Up: true, Weight: -1, Offset: -2}}, 14},
		{"misc_dynamic and offset", []Status{{Up: true, Weight: 3}, {Up: true, Weight: -1, Offset: 4}}, 7},
		{"clamped at 0", []Status{{Up: true, Weight: -1, Offset: -100}}, 0},
		{"clamped at MaxWeight", []Status{{Up: true, Weight: -1, Offset: math.MaxInt32}}, MaxWeight},
	}
	for _, tt := range tests {
		if w, alive := EffectiveWeight(rs, tt.st); w != tt.want || !alive {
			t.Errorf("%s: EffectiveWeight = %d, %v; want %d, true", tt.name, w, alive, tt.want)
		}
	}
}
