package lab

import (
	"fmt"
	"regexp"
	"strconv"
)

// DefaultPrefix starts every namespace name a lab creates unless
// Options.Prefix says otherwise.
const DefaultPrefix = "vl"

// Roles of the namespaces a lab creates, used as the last part of their names.
const (
	roleSwitch = "sw"
	roleGW     = "gw"
	roleClient = "client"
)

// slotDigits numbers the labs one process has alive at once; the slot is the
// last character of a generated id, so base36(pid)+slot is unambiguous.
const slotDigits = "0123456789abcdefghijklmnopqrstuvwxyz"

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)

// validPrefix rejects prefixes that would make names ambiguous: a prefix
// never contains '-', so the first '-' of a namespace name ends it.
func validPrefix(p string) error {
	if !prefixRE.MatchString(p) {
		return fmt.Errorf("lab: prefix %q must be 1-10 lowercase letters or digits, starting with a letter", p)
	}
	return nil
}

// genID names one lab of this process: the pid in base36 then one slot
// character. Names stay short (≤ 6 characters for any pid below 36^5) and
// labs of different processes never collide.
func genID(pid, slot int) string {
	return strconv.FormatInt(int64(pid), 36) + string(slotDigits[slot])
}

// parseID undoes genID.
func parseID(id string) (pid, slot int, ok bool) {
	if len(id) < 2 {
		return 0, 0, false
	}
	p, err := strconv.ParseInt(id[:len(id)-1], 36, 64)
	if err != nil || p <= 0 {
		return 0, 0, false
	}
	s := int(id[len(id)-1] - '0')
	if id[len(id)-1] >= 'a' {
		s = int(id[len(id)-1]-'a') + 10
	}
	return int(p), s, true
}

// nsName is the namespace name for one role of the lab whose base name is
// base (prefix-id, or Options.Name).
func nsName(base, role string) string { return base + "-" + role }

// sweepPattern matches exactly the namespace names a lab with this prefix
// creates: prefix[-id]-role. Group 1 is the generated id, if any.
func sweepPattern(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) +
		`(?:-([0-9a-z]{2,6}))?-(?:sw|gw|client|n[1-9][0-9]?)$`)
}
