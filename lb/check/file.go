package check

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/vipd/vipd/vrrp/track"
)

// FileCheck is FILE_CHECK: it reads a vrrp_track_file's value as
// keepalived's checker process does (check_file.c, track_file.c
// update_track_file_status):
//   - Weight 0: a value of 0 is up, any other value down (reversed by
//     Reverse).
//   - Otherwise the check stays up and adds value×Weight (negated by
//     Reverse) to the real server's weight, except that a product at or
//     below INT32_MIN (IPVS_WEIGHT_FAULT) is down.
//
// A missing file reads 0; an unreadable number keeps the last value, as
// keepalived ignores such a read. Probe must not be called concurrently
// (the Checker's Run goroutine calls it).
type FileCheck struct {
	Path    string
	Weight  int
	Reverse bool

	last int // last value read
}

var _ Prober = (*FileCheck)(nil)

// FileTiming is FILE_CHECK's schedule: keepalived watches the file with
// inotify and acts on each change at once, so the file is read every
// track.DefaultFilePoll with no retries, no warmup and no alpha (it knows
// its state immediately: check_file.c clears alpha).
func FileTiming() Timing {
	return Timing{DelayLoop: track.DefaultFilePoll, DelayBeforeRetry: track.DefaultFilePoll}
}

// Probe implements Prober.
func (c *FileCheck) Probe(context.Context) Result {
	start := time.Now()
	v, detail, err := track.ReadTrackFile(c.Path)
	if err == nil {
		c.last = v
	} else {
		v = c.last
		detail = fmt.Sprintf("%s; keeping %d", detail, v)
	}
	up, offset := FileState(v, c.Weight, c.Reverse)
	r := Result{OK: up, Detail: detail, Weight: -1, Offset: offset, Duration: time.Since(start)}
	if !up {
		r.Offset = 0
	}
	return r
}

// FileState is a track file value's effect on a FILE_CHECK of weight w.
func FileState(value, w int, reverse bool) (up bool, offset int) {
	if w == 0 {
		return (value == 0) != reverse, 0
	}
	p := int64(value) * int64(w)
	if reverse {
		p = -p
	}
	if p <= math.MinInt32 {
		return false, 0
	}
	return true, int(min(p, math.MaxInt32))
}
