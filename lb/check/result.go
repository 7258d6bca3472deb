package check

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Result is the outcome of one probe.
type Result struct {
	OK bool
	// Detail says why, e.g. "connect refused", "status 500",
	// "digest mismatch", "exit 3", "timed_out".
	Detail string
	// Weight is the real server weight a MISC_CHECK with misc_dynamic asks
	// for (exit 2..255 gives exit-2); -1 means no dynamic weight, i.e. the
	// configured one.
	Weight int
	// Offset is what a FILE_CHECK adds to the real server's weight
	// (value×weight); 0 for the other checkers.
	Offset   int
	Duration time.Duration
}

// Prober runs one health check. Implementations bound their own duration
// (connect_timeout, misc_timeout) and also stop when ctx ends.
type Prober interface {
	Probe(ctx context.Context) Result
}

// errDetail turns a network error into a short keepalived-like reason.
func errDetail(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect refused"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timed_out"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return err.Error()
}

func fail(start time.Time, detail string) Result {
	return Result{Detail: detail, Weight: -1, Duration: time.Since(start)}
}

func success(start time.Time, detail string) Result {
	return Result{OK: true, Detail: detail, Weight: -1, Duration: time.Since(start)}
}
