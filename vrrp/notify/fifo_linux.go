package notify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/vrrp/track"
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

// FIFOConfig is one notify_fifo or vrrp_notify_fifo: the pipe and who
// owns it, and the script keepalived starts to read it.
type FIFOConfig struct {
	Path       string
	Owner      string // user (and ":group") the pipe is given to when vipd creates it
	Script     string // notify_fifo_script, as written; "" for none
	ScriptUser string // who runs it ("user" or "user:group"; "" for us)
}

// FIFOSink is an open notify FIFO with its reader script running. Close
// stops the script and removes the pipe if vipd created it.
type FIFOSink struct {
	*FIFOWriter
	f       *os.File
	path    string
	created bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// OpenFIFOSink does what keepalived's fifo_open (core/notify.c) does:
// create the pipe (mode 0644, given to Owner) unless it exists, start the
// script with the pipe's path as its last argument, then open the pipe
// for writing, refusing anything that is not a pipe owned by us or Owner.
// The script runs until Close; its exit is logged. run nil means
// track.ExecRunner{}.
func OpenFIFOSink(c FIFOConfig, run Runner, log *slog.Logger) (*FIFOSink, error) {
	if run == nil {
		run = track.ExecRunner{}
	}
	s := &FIFOSink{path: c.Path, done: make(chan struct{})}
	err := unix.Mkfifo(c.Path, 0o644)
	switch {
	case err == nil:
		s.created = true
		if c.Owner != "" {
			if uid, gid, err := lookupOwner(c.Owner); err != nil {
				log.Warn("notify fifo owner", "fifo", c.Path, "err", err)
			} else if err := os.Chown(c.Path, uid, gid); err != nil {
				log.Warn("notify fifo: failed to set the owner", "fifo", c.Path, "err", err)
			}
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("create notify fifo %s: %w", c.Path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if c.Script != "" {
		argv, err := track.SplitCommand(c.Script)
		if err != nil {
			cancel()
			s.removeCreated()
			return nil, fmt.Errorf("notify_fifo_script %q: %w", c.Script, err)
		}
		argv = append(argv, c.Path)
		go func() {
			defer close(s.done)
			code, err := run.RunEnv(ctx, argv, nil, 0, c.ScriptUser)
			if ctx.Err() == nil {
				log.Warn("notify_fifo_script exited", "script", argv[0], "fifo", c.Path, "code", code, "err", err)
			}
		}()
	} else {
		close(s.done)
	}
	f, err := os.OpenFile(c.Path, os.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err == nil {
		var st unix.Stat_t
		if e := unix.Fstat(int(f.Fd()), &st); e != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || !s.ownedBy(st.Uid, c.Owner) {
			f.Close()
			err = fmt.Errorf("%s is not a fifo we own", c.Path)
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open notify fifo: %w", err)
	}
	s.f = f
	s.FIFOWriter = NewFIFOWriter(f)
	return s, nil
}

func (s *FIFOSink) ownedBy(uid uint32, owner string) bool {
	if uid == uint32(os.Getuid()) {
		return true
	}
	if owner == "" {
		return false
	}
	ou, _, err := lookupOwner(owner)
	return err == nil && uint32(ou) == uid
}

// Close stops the script (SIGTERM to its process group, then SIGKILL),
// closes the pipe and removes it if vipd created it — first, so a script
// that reopens the pipe in a loop cannot (keepalived fifo_close).
func (s *FIFOSink) Close() error {
	s.removeCreated()
	s.cancel()
	<-s.done
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

func (s *FIFOSink) removeCreated() {
	if s.created {
		os.Remove(s.path)
		s.created = false
	}
}

// lookupOwner resolves "user" or "user:group".
func lookupOwner(owner string) (uid, gid int, err error) {
	name, group, _ := strings.Cut(owner, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, err
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}
