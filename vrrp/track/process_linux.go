package track

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// KindProcess is a vrrp_track_process.
const KindProcess = "process"

// DefaultProcessPoll is how often the process table is scanned. keepalived
// learns of forks and exits from the kernel's proc connector at once; the
// scan costs one read per process per poll, so a second is the compromise.
const DefaultProcessPoll = time.Second

// ParamMatch says how a tracked process's arguments must match (keepalived
// param_match): none are compared, all of them, the configured ones as the
// first whole arguments (partial), or as a prefix of the argument string
// (initial).
type ParamMatch int

const (
	ParamMatchNone ParamMatch = iota
	ParamMatchExact
	ParamMatchPartial
	ParamMatchInitial
)

// ProcessConfig is a vrrp_track_process.
type ProcessConfig struct {
	Name string
	// Process is the name to match: the comm of /proc/PID/stat (15
	// characters at most), or argv[0] exactly with FullCommand.
	Process     string
	Params      []string // the arguments after the process name, if any
	ParamMatch  ParamMatch
	FullCommand bool
	// The process count is up from Quorum to QuorumMax inclusive
	// (keepalived's defaults: 1 and unlimited; QuorumMax 0 with Quorum 0
	// tracks the absence of the process).
	Quorum, QuorumMax int
	// ForkDelay: the count must stay up this long after it rose before it
	// is reported; TerminateDelay likewise after it fell.
	ForkDelay, TerminateDelay time.Duration
	Poll                      time.Duration // 0: DefaultProcessPoll
	// Proc is the proc file system (tests use a fake tree); "" is /proc.
	Proc string
}

// Process tracks how many running processes match a ProcessConfig.
type Process struct {
	cfg   ProcessConfig
	clock clock.Clock
}

// NewProcess returns a tracker for cfg.
func NewProcess(cfg ProcessConfig, clk clock.Clock) *Process {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultProcessPoll
	}
	if cfg.Proc == "" {
		cfg.Proc = "/proc"
	}
	return &Process{cfg: cfg, clock: clk}
}

// Run scans now and every Poll until ctx is done (then it returns nil). It
// sends a Status{Kind: KindProcess} with the first verdict, and every later
// change of verdict once it has lasted ForkDelay (rising) or
// TerminateDelay (falling); Value is the number of matching processes.
func (p *Process) Run(ctx context.Context, updates chan<- Status) error {
	var last Status
	var pendingSince time.Time // when the verdict first differed from last
	for {
		n := p.Count()
		up := n >= p.cfg.Quorum && n <= p.cfg.QuorumMax
		now := p.clock.Now()
		switch {
		case !last.Known:
			last = p.status(up, n, now)
			if !send(ctx, updates, last) {
				return nil
			}
		case up == last.OK:
			pendingSince = time.Time{}
			last.Value = n
		default:
			if pendingSince.IsZero() {
				pendingSince = now
			}
			wait := p.cfg.TerminateDelay
			if up {
				wait = p.cfg.ForkDelay
			}
			if now.Sub(pendingSince) >= wait {
				pendingSince = time.Time{}
				last = p.status(up, n, now)
				if !send(ctx, updates, last) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.clock.After(p.cfg.Poll):
		}
	}
}

func (p *Process) status(up bool, n int, now time.Time) Status {
	return Status{Name: p.cfg.Name, Kind: KindProcess, Known: true, OK: up, Value: n,
		Detail: fmt.Sprintf("%d matching processes, quorum %d..%d", n, p.cfg.Quorum, p.cfg.QuorumMax), Since: now}
}

// Count returns the number of live (not zombie) processes that match.
func (p *Process) Count() int {
	entries, err := os.ReadDir(p.cfg.Proc)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if p.matches(filepath.Join(p.cfg.Proc, e.Name())) {
			n++
		}
	}
	return n
}

// matches applies keepalived's read_procs rules to one /proc/PID.
func (p *Process) matches(dir string) bool {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return false
	}
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open || end+2 >= len(stat) || stat[end+2] == 'Z' {
		return false // malformed, or a zombie
	}
	var name []byte
	var args [][]byte
	if p.cfg.FullCommand {
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(cmdline) == 0 {
			return false
		}
		parts := bytes.Split(bytes.TrimSuffix(cmdline, []byte{0}), []byte{0})
		name, args = parts[0], parts[1:]
	} else {
		name = stat[open+1 : end]
	}
	if string(name) != p.cfg.Process {
		return false
	}
	return p.paramsMatch(args)
}

// paramsMatch is keepalived's check_params on the NUL-joined arguments.
func (p *Process) paramsMatch(args [][]byte) bool {
	if p.cfg.ParamMatch == ParamMatchNone {
		return true
	}
	have := bytes.Join(args, []byte{0})
	if len(args) > 0 {
		have = append(have, 0)
	}
	var want []byte
	for _, a := range p.cfg.Params {
		want = append(append(want, a...), 0)
	}
	switch p.cfg.ParamMatch {
	case ParamMatchExact:
		return bytes.Equal(have, want)
	case ParamMatchPartial:
		return bytes.HasPrefix(have, want)
	}
	// ParamMatchInitial: the last configured argument may be the start of
	// the process's.
	return len(want) == 0 || bytes.HasPrefix(have, want[:len(want)-1])
}
