package track

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// DefaultFilePoll is how often a File tracker re-reads its file.
// keepalived uses inotify; polling once a second is simpler and bounds the
// delay the same way the other trackers' intervals do.
const DefaultFilePoll = time.Second

// fileReadLimit is how much of a tracked file keepalived reads (char[128]
// minus the terminating NUL, process_track_file).
const fileReadLimit = 127

// FileConfig is one track_file block.
type FileConfig struct {
	Name string // the track_file name the instances refer to
	Path string
	// Poll interval; 0 means DefaultFilePoll.
	Poll time.Duration
}

// File tracks the integer written in a file.
type File struct {
	cfg   FileConfig
	clock clock.Clock
}

// NewFile returns a tracker for cfg.
func NewFile(cfg FileConfig, clk clock.Clock) *File {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultFilePoll
	}
	return &File{cfg: cfg, clock: clk}
}

// Run reads the file now and then every Poll until ctx is done (then it
// returns nil), sending a Status{Kind: KindFile} with the first value and
// on every change of value.
func (f *File) Run(ctx context.Context, updates chan<- Status) error {
	last := Status{Name: f.cfg.Name, Kind: KindFile}
	for {
		v, detail, err := ReadTrackFile(f.cfg.Path)
		// An invalid number is ignored like keepalived does: the previous
		// value stays (0 if there was none yet).
		if err != nil && last.Known {
			v = last.Value
		}
		if !last.Known || v != last.Value {
			last = Status{Name: f.cfg.Name, Kind: KindFile, Known: true, OK: err == nil,
				Value: v, Detail: detail, Since: f.clock.Now()}
			if !send(ctx, updates, last) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.clock.After(f.cfg.Poll):
		}
	}
}

// ErrInvalidNumber is returned by ReadTrackFile for a number out of range.
var ErrInvalidNumber = errors.New("invalid number")

// ReadTrackFile reads a track_file value as keepalived does: the first 127
// bytes are parsed with strtol(buf, NULL, 0) semantics (leading white space,
// optional sign, 0x hex and 0 octal prefixes, trailing text ignored, no
// digits = 0). A missing, unreadable or empty file reads as 0 (keepalived:
// "The file has disappeared. Treat as though the value is 0"). A value that
// does not fit in a C int returns ErrInvalidNumber, and keepalived then
// ignores the read.
func ReadTrackFile(path string) (value int, detail string, err error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, "missing", nil
		}
		return 0, "unreadable: " + err.Error(), nil
	}
	defer fd.Close()
	buf := make([]byte, fileReadLimit)
	n, rerr := io.ReadFull(fd, buf)
	if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
		return 0, "unreadable: " + rerr.Error(), nil
	}
	v, ok := strtol(string(buf[:n]))
	if !ok || v < math.MinInt32 || v > math.MaxInt32 {
		return 0, fmt.Sprintf("invalid number in %s", path), fmt.Errorf("%s: %w", path, ErrInvalidNumber)
	}
	return int(v), fmt.Sprintf("value %d", v), nil
}

// strtol parses like C strtol(s, NULL, 0); ok is false on overflow of a
// 64-bit long (ERANGE).
func strtol(s string) (int64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]):
		base = 16
		i += 2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	var u uint64
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // |MinInt64|
	}
	overflow := false
	for ; i < len(s); i++ {
		d, ok := digit(s[i], base)
		if !ok {
			break
		}
		if u > (limit-d)/base {
			overflow = true
			continue // strtol consumes all digits, then reports ERANGE
		}
		u = u*base + d
	}
	if overflow {
		return 0, false
	}
	if neg {
		return -int64(u-1) - 1, true
	}
	return int64(u), true
}

func digit(c byte, base uint64) (uint64, bool) {
	var d uint64
	switch {
	case c >= '0' && c <= '9':
		d = uint64(c - '0')
	case c >= 'a' && c <= 'z':
		d = uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		d = uint64(c-'A') + 10
	default:
		return 0, false
	}
	return d, d < base
}
