package notify

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFIFOLine(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{Event{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 100}, "INSTANCE \"VI_1\" MASTER 100\n"},
		{Event{Type: TypeGroup, Name: "G1", State: StateBackup}, "GROUP \"G1\" BACKUP 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FIFOLine(tt.ev)); diff != "" {
				t.Errorf("FIFOLine mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFIFOWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.fifo")
	f, err := OpenFIFO(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Writing works with no reader attached (the pipe is open read-write).
	w := NewFIFOWriter(f)
	evs := []Event{
		{Type: TypeInstance, Name: "VI_1", State: StateBackup, Priority: 100},
		{Type: TypeInstance, Name: "VI_1", State: StateMaster, Priority: 100},
		{Type: TypeGroup, Name: "G1", State: StateMaster},
	}
	for _, ev := range evs {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	r, err := os.Open(path) // a reader attaching later still sees the lines
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	var got []string
	for len(got) < len(evs) && sc.Scan() {
		got = append(got, sc.Text())
	}
	want := []string{`INSTANCE "VI_1" BACKUP 100`, `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" MASTER 0`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fifo lines mismatch (-want +got):\n%s", diff)
	}

	// A regular file in the way is refused, not overwritten.
	reg := filepath.Join(t.TempDir(), "regular")
	if err := os.WriteFile(reg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFIFO(reg); err == nil || !strings.Contains(err.Error(), "not a named pipe") {
		t.Errorf("OpenFIFO(regular file) = %v, want a not-a-named-pipe error", err)
	}
}
