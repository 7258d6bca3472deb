package config

import (
	"fmt"
	"strings"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
}

// String returns "file:line".
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Warning is a problem that does not stop the configuration from loading
// (deprecated or unknown keywords, values vipd had to adjust).
type Warning struct {
	Pos Pos
	Msg string
}

// String returns "file:line: msg".
func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

// Error is one configuration error.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line: msg".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList holds every error found in a configuration, in the order found,
// so a user fixes them in one pass instead of one per run.
type ErrorList []*Error

// Error joins the errors one per line.
func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find an individual *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
