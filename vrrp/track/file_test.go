package track

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vipd/vipd/internal/clock"
)

func TestReadTrackFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		content string // "<missing>" removes the file
		want    int
		wantErr bool
	}{
		{content: "<missing>", want: 0},
		{content: "", want: 0},
		{content: "42\n", want: 42},
		{content: "  \t 42", want: 42},
		{content: "-7", want: -7},
		{content: "+8", want: 8},
		{content: "010", want: 8}, // strtol base 0: octal
		{content: "09", want: 0},  // octal stops at 9
		{content: "0x1f", want: 31},
		{content: "0X1F", want: 31},
		{content: "-0x10", want: -16},
		{content: "0x", want: 0},
		{content: "12abc", want: 12},
		{content: "abc", want: 0},
		{content: "2147483647", want: 2147483647},
		{content: "-2147483648", want: -2147483648},
		{content: "2147483648", wantErr: true},
		{content: "99999999999999999999", wantErr: true},
		{content: strings.Repeat(" ", 126) + "5", want: 5},
		{content: strings.Repeat(" ", 127) + "5", want: 0}, // only 127 bytes are read
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.content), func(t *testing.T) {
			p := filepath.Join(dir, "v")
			_ = os.Remove(p)
			if tt.content != "<missing>" {
				if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, _, err := ReadTrackFile(p)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidNumber) {
					t.Errorf("ReadTrackFile(%q) error = %v, want ErrInvalidNumber", tt.content, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ReadTrackFile(%q) = %d, %v; want %d", tt.content, got, err, tt.want)
			}
		})
	}
}

func TestFileTracker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := filepath.Join(t.TempDir(), "weight")
	if err := os.WriteFile(p, []byte("5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Unix(1000, 0))
	updates := make(chan Status, 10)
	errc := make(chan error, 1)
	go func() { errc <- NewFile(FileConfig{Name: "tf", Path: p}, clk).Run(ctx, updates) }()

	type got struct {
		Value  int
		Detail string
	}
	steps := []struct {
		name    string
		content string // "<missing>" deletes the file
		want    *got   // nil: no update
	}{
		{name: "initial", want: &got{5, "value 5"}},
		{name: "same value", content: "5", want: nil},
		{name: "changed", content: "0x10 trailing", want: &got{16, "value 16"}},
		{name: "deleted reads as 0", content: "<missing>", want: &got{0, "missing"}},
		{name: "back", content: "-3", want: &got{-3, "value -3"}},
		{name: "invalid ignored", content: "99999999999", want: nil},
		{name: "valid again", content: "2", want: &got{2, "value 2"}},
	}
	for i, st := range steps {
		if i > 0 {
			if st.content == "<missing>" {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, []byte(st.content), 0o644); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Second)
		}
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatalf("%s: tracker did not poll: %v", st.name, err)
		}
		var g *got
		select {
		case s := <-updates:
			if !s.Known || s.Kind != KindFile || s.Name != "tf" {
				t.Errorf("%s: bad status %+v", st.name, s)
			}
			g = &got{s.Value, s.Detail}
		default:
		}
		if diff := cmp.Diff(st.want, g); diff != "" {
			t.Errorf("%s: update mismatch (-want +got):\n%s", st.name, diff)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}
