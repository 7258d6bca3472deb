package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vipd/vipd/vrrp/track"
)

// Event types.
const (
	TypeInstance = "INSTANCE"
	TypeGroup    = "GROUP"
)

// States.
const (
	StateMaster  = "MASTER"
	StateBackup  = "BACKUP"
	StateFault   = "FAULT"
	StateStop    = "STOP"
	StateDeleted = "DELETED"
)

const (
	// StopTimeout bounds notify_stop scripts: keepalived gives them 1 s
	// because they run while the daemon shuts down (vrrp_notify.c).
	StopTimeout = time.Second
	// DefaultTimeout bounds the other scripts when New gets 0. keepalived
	// does not time them out; a bound keeps a hung script from blocking
	// every later event of its instance, since ours run in order.
	DefaultTimeout = 60 * time.Second
)

// Event is one state change to announce.
type Event struct {
	Type     string // TypeInstance or TypeGroup
	Name     string // instance or sync group name
	State    string // StateMaster, StateBackup, StateFault, StateStop or StateDeleted
	Priority int    // effective priority (0 for groups)
	// Env is extra environment for the scripts (e.g. VIPD_TOKEN).
	Env map[string]string
}

// Scripts are the notify commands of one instance or group, as written in
// the config (split like keepalived, see track.SplitCommand).
type Scripts struct {
	Master, Backup, Fault, Stop string
	// Generic is the `notify` script; it gets TYPE NAME STATE PRIORITY
	// appended to its configured arguments.
	Generic string
	// User runs the scripts as this user if set.
	User string
}

// Runner runs one command; track.ExecRunner implements it.
type Runner interface {
	RunEnv(ctx context.Context, argv, env []string, timeout time.Duration, user string) (exitCode int, err error)
}

var _ Runner = track.ExecRunner{}

type key struct{ typ, name string }

type job struct {
	s  Scripts
	ev Event
}

// Notifier runs notify scripts without blocking its callers. Events of one
// (Type, Name) run one after the other in the order Notify was called;
// different instances run concurrently. keepalived forks every script
// without waiting, so its scripts can run out of order (issue #1884).
type Notifier struct {
	log     *slog.Logger
	run     Runner
	timeout time.Duration

	// ctx is the parent of every script run; cancel kills running scripts
	// when Close gives up.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex // guards queues and closed
	// queues holds the pending jobs per instance. A key is present exactly
	// while a worker goroutine owns it; the worker deletes it when it finds
	// the queue empty, and Notify starts a worker when it adds the key.
	queues map[key][]job
	closed bool
	wg     sync.WaitGroup // one per worker
}

// New returns a Notifier. run nil means track.ExecRunner{}; timeout 0
// means DefaultTimeout.
func New(log *slog.Logger, run Runner, timeout time.Duration) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if run == nil {
		run = track.ExecRunner{}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{log: log, run: run, timeout: timeout, ctx: ctx, cancel: cancel, queues: map[key][]job{}}
}

// Notify queues the scripts for ev and returns at once. The state's own
// script (notify_master etc.) runs first, then the generic notify script
// with TYPE NAME STATE PRIORITY appended (DELETED has no own script). After
// Close, events are dropped with a warning.
func (n *Notifier) Notify(s Scripts, ev Event) {
	if specific(s, ev.State) == "" && s.Generic == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.log.Warn("notify after close, dropped", "type", ev.Type, "name", ev.Name, "state", ev.State)
		return
	}
	k := key{ev.Type, ev.Name}
	q, running := n.queues[k]
	n.queues[k] = append(q, job{s: s, ev: ev})
	if !running {
		n.wg.Add(1)
		go n.worker(k)
	}
}

func (n *Notifier) worker(k key) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		q := n.queues[k]
		if len(q) == 0 {
			delete(n.queues, k)
			n.mu.Unlock()
			return
		}
		j := q[0]
		q[0] = job{}
		n.queues[k] = q[1:]
		n.mu.Unlock()
		n.execute(j)
	}
}

func (n *Notifier) execute(j job) {
	timeout := n.timeout
	if j.ev.State == StateStop {
		timeout = StopTimeout
	}
	env := make([]string, 0, len(j.ev.Env))
	for k, v := range j.ev.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	if cmd := specific(j.s, j.ev.State); cmd != "" {
		n.runOne(j, cmd, nil, env, timeout)
	}
	if j.s.Generic != "" {
		n.runOne(j, j.s.Generic, Args(j.ev), env, timeout)
	}
}

func (n *Notifier) runOne(j job, cmd string, extra, env []string, timeout time.Duration) {
	log := n.log.With("type", j.ev.Type, "name", j.ev.Name, "state", j.ev.State, "script", cmd)
	argv, err := track.SplitCommand(cmd)
	if err != nil {
		log.Error("notify script not runnable", "err", err)
		return
	}
	argv = append(argv, extra...)
	start := time.Now()
	code, err := n.run.RunEnv(n.ctx, argv, env, timeout, j.s.User)
	switch {
	case err != nil:
		log.Warn("notify script failed", "err", err, "elapsed", time.Since(start))
	case code != 0:
		log.Warn("notify script failed", "exit", code, "elapsed", time.Since(start))
	default:
		log.Debug("notify script done", "elapsed", time.Since(start))
	}
}

// Args are the arguments keepalived appends to the generic notify script:
// TYPE NAME STATE PRIORITY.
func Args(ev Event) []string {
	return []string{ev.Type, ev.Name, ev.State, strconv.Itoa(ev.Priority)}
}

func specific(s Scripts, state string) string {
	switch state {
	case StateMaster:
		return s.Master
	case StateBackup:
		return s.Backup
	case StateFault:
		return s.Fault
	case StateStop:
		return s.Stop
	}
	return ""
}

// Close stops accepting events and waits for the queued scripts. If ctx
// ends first, pending events are dropped, running scripts are killed, and
// the context's error is returned.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
	}
	n.mu.Lock()
	dropped := 0
	for k, q := range n.queues {
		dropped += len(q)
		n.queues[k] = nil
	}
	n.mu.Unlock()
	n.cancel()
	return fmt.Errorf("notify: gave up waiting for scripts (%d queued events dropped): %w", dropped, ctx.Err())
}
