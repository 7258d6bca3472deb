package notify

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The sink creates the pipe, starts the reader script with the pipe as its
// last argument, delivers every line in order, and on Close stops the
// script and removes the pipe it created (keepalived fifo_open/fifo_close).
func TestFIFOSink(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "notify.fifo"), filepath.Join(dir, "out")
	script := fmt.Sprintf(`/bin/sh -c 'cat "$0" >> %s'`, out)
	s, err := OpenFIFOSink(FIFOConfig{Path: path, Script: script}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{
		{Type: TypeInstance, Name: "VI_1", State: StateBackup, Priority: 100},
		{Type: TypeGroup, Name: "G", State: StateMaster},
	} {
		if err := s.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	want := "INSTANCE \"VI_1\" BACKUP 100\nGROUP \"G\" MASTER 0\n"
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, _ = os.ReadFile(out); string(got) == want {
			break
		}
	}
	if string(got) != want {
		t.Errorf("the script read %q, want %q", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the pipe vipd created is still there after Close (%v)", err)
	}
}
