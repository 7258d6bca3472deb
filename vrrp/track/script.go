package track

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// ErrTimedOut is returned by a Runner when the command outlived its timeout
// and was killed. keepalived counts that as a failure logged "timed_out".
var ErrTimedOut = errors.New("timed_out")

// DefaultInterval is vrrp_script's default interval (keepalived: 1 s).
const DefaultInterval = time.Second

// Runner runs one command to completion.
type Runner interface {
	// Run runs argv as user (the current user if empty), killing it after
	// timeout (if > 0) or when ctx ends. exitCode is the exit status when
	// the command exited; err is non-nil when it could not be started,
	// died by a signal, or was killed (wrapping ErrTimedOut on timeout).
	Run(ctx context.Context, argv []string, timeout time.Duration, user string) (exitCode int, err error)
}

// ScriptConfig is one vrrp_script block.
type ScriptConfig struct {
	Name string
	// Command is the script as written in the config; see SplitCommand.
	Command string
	// Interval between runs; 0 means DefaultInterval.
	Interval time.Duration
	// Timeout of one run; 0 means Interval (keepalived's default).
	Timeout time.Duration
	// Rise successes make a bad script good and Fall failures make a good
	// one bad; values below 1 mean 1 (keepalived's default).
	Rise, Fall int
	// InitFail starts the script in the failed state instead of waiting
	// for its first result.
	InitFail bool
	// User runs the script as this user if set.
	User string
}

// Script runs a vrrp_script periodically and reports its state.
type Script struct {
	cfg   ScriptConfig
	run   Runner
	clock clock.Clock

	// Owned by the goroutine in Run.
	result int // keepalived's counter, 0..rise+fall-1; good when >= rise
	last   Status
}

// NewScript returns a checker for cfg; defaults are applied here.
func NewScript(cfg ScriptConfig, run Runner, clk clock.Clock) *Script {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Interval
	}
	cfg.Rise = max(cfg.Rise, 1)
	cfg.Fall = max(cfg.Fall, 1)
	return &Script{cfg: cfg, run: run, clock: clk}
}

// Run runs the script now and then on every Interval tick counted from the
// first run, until ctx is done (then it returns nil). Like keepalived
// (vrrp_script_thread), a tick that comes while the script still runs is
// skipped rather than queued. It sends a Status on
// updates whenever Known or OK changes; with InitFail the first Status
// (known, failed) is sent before the first run. An unparsable command is
// returned as an error at once.
func (s *Script) Run(ctx context.Context, updates chan<- Status) error {
	argv, err := SplitCommand(s.cfg.Command)
	if err != nil {
		return fmt.Errorf("vrrp_script %s: %w", s.cfg.Name, err)
	}
	s.last = Status{Name: s.cfg.Name, Kind: KindScript, Since: s.clock.Now()}
	if s.cfg.InitFail {
		// keepalived SCRIPT_INIT_STATE_FAILED: known bad until rise successes.
		s.result = 0
		s.last.Known = true
		s.last.Detail = "init_fail"
		if !send(ctx, updates, s.last) {
			return nil
		}
	} else {
		// One result decides: a success makes it good, a failure bad.
		s.result = s.cfg.Rise - 1
	}
	for {
		start := s.clock.Now()
		code, err := s.run.Run(ctx, argv, s.cfg.Timeout, s.cfg.User)
		if ctx.Err() != nil {
			return nil
		}
		st, changed := s.record(err == nil && code == 0, detail(code, err))
		if changed && !send(ctx, updates, st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.clock.After(s.nextRun(s.clock.Now().Sub(start))):
		}
	}
}

// nextRun is the wait from the end of a run that took elapsed until the
// next interval tick counted from its start.
func (s *Script) nextRun(elapsed time.Duration) time.Duration {
	if elapsed <= 0 {
		return s.cfg.Interval
	}
	return s.cfg.Interval - elapsed%s.cfg.Interval
}

// record applies one result to the rise/fall counter the way keepalived's
// vrrp_script_child_thread does and reports whether Known or OK changed.
func (s *Script) record(success bool, detail string) (Status, bool) {
	rise, fall := s.cfg.Rise, s.cfg.Fall
	if success {
		if s.result < rise-1 {
			s.result++
		} else {
			s.result = rise + fall - 1
		}
	} else {
		if s.result > rise {
			s.result--
		} else {
			s.result = 0
		}
	}
	ok := s.result >= rise
	changed := !s.last.Known || s.last.OK != ok
	s.last.Known, s.last.OK, s.last.Detail = true, ok, detail
	if changed {
		s.last.Since = s.clock.Now()
	}
	return s.last, changed
}

func detail(code int, err error) string {
	switch {
	case errors.Is(err, ErrTimedOut):
		return "timed_out"
	case err != nil:
		return err.Error()
	}
	return fmt.Sprintf("exit %d", code)
}

func send(ctx context.Context, ch chan<- Status, st Status) bool {
	select {
	case ch <- st:
		return true
	case <-ctx.Done():
		return false
	}
}
