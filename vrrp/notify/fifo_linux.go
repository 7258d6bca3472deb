package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// OpenFIFO opens the named pipe at path for writing, creating it (mode
// 0600) if it does not exist. Like keepalived it opens the pipe read-write
// so that opening never blocks and writes do not fail while no reader is
// attached; it is non-blocking, so a full pipe makes a write fail rather
// than stall the daemon.
func OpenFIFO(path string) (*os.File, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create notify fifo %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("notify fifo: %w", err)
	}
	if fi.Mode()&fs.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("notify fifo %s: not a named pipe", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open notify fifo %s: %w", path, err)
	}
	return f, nil
}
