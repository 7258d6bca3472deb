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
	// Kind says what the warning means for a drop-in: a keyword ignored
	// that changes where VIPs or traffic go makes `vipd -t` fail.
	Kind WarningKind
}

// WarningKind classifies warnings for `vipd -t`'s summary.
type WarningKind int

const (
	// WarnAdjusted: a value vipd had to adjust, a deprecated spelling...
	WarnAdjusted WarningKind = iota
	// WarnIgnored: a keepalived keyword vipd ignores, which cannot change
	// where VIPs or traffic go (mail, SNMP, process priorities).
	WarnIgnored
	// WarnIgnoredAffecting: a keepalived keyword vipd ignores although
	// keepalived would move VIPs or traffic with it.
	WarnIgnoredAffecting
	// WarnUnknown: not a keyword vipd knows in that block.
	WarnUnknown
)

// Summary counts the warnings of a load by kind.
type Summary struct {
	Adjusted, Ignored, IgnoredAffecting, Unknown int
}

// Summarize counts warns by kind.
func Summarize(warns []Warning) Summary {
	var s Summary
	for _, w := range warns {
		switch w.Kind {
		case WarnIgnored:
			s.Ignored++
		case WarnIgnoredAffecting:
			s.IgnoredAffecting++
		case WarnUnknown:
			s.Unknown++
		default:
			s.Adjusted++
		}
	}
	return s
}

// String is the one-line summary `vipd -t` prints.
func (s Summary) String() string {
	return fmt.Sprintf("%d ignored keywords that change where VIPs or traffic go, %d ignored that cannot, %d unknown, %d adjusted",
		s.IgnoredAffecting, s.Ignored, s.Unknown, s.Adjusted)
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
