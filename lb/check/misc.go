package check

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vipd/vipd/vrrp/track"
)

// MiscCheck is MISC_CHECK: misc_path is split into argv like a vrrp_script
// (no shell) and run; exit 0 is success. With Dynamic (misc_dynamic) exit 1
// is failure and exit 2..255 is success with the real server weight set to
// exit-2.
type MiscCheck struct {
	Argv    []string
	Timeout time.Duration // misc_timeout; 0 = no limit but ctx
	Dynamic bool
	Run     track.Runner
}

var _ Prober = (*MiscCheck)(nil)

// NewMiscCheck parses cmd as keepalived does (track.SplitCommand).
func NewMiscCheck(cmd string, timeout time.Duration, dynamic bool, run track.Runner) (*MiscCheck, error) {
	argv, err := track.SplitCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("misc_path: %w", err)
	}
	return &MiscCheck{Argv: argv, Timeout: timeout, Dynamic: dynamic, Run: run}, nil
}

// Probe implements Prober.
func (c *MiscCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	code, err := c.Run.Run(ctx, c.Argv, c.Timeout, "")
	switch {
	case errors.Is(err, track.ErrTimedOut):
		return fail(start, "timed_out")
	case err != nil:
		return fail(start, err.Error())
	}
	return miscResult(code, c.Dynamic, time.Since(start))
}

// miscResult maps an exit status to a Result (check_misc.c:373-386).
func miscResult(code int, dynamic bool, d time.Duration) Result {
	r := Result{Detail: fmt.Sprintf("exit %d", code), Weight: -1, Duration: d}
	switch {
	case code == 0:
		r.OK = true
	case dynamic && code >= 2 && code <= 255:
		r.OK, r.Weight = true, code-2
	}
	return r
}
