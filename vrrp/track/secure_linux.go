package track

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// RunAs is who a script runs as: numeric ids resolved from the configured
// user and group names.
type RunAs struct {
	UID, GID uint32
}

// ScriptCheck is the verdict on one script command, as keepalived's
// check_script_secure (core/notify.c) reaches it.
type ScriptCheck struct {
	// Path is the executable the command names, after a PATH search for a
	// bare name.
	Path string
	// Disabled says why the script must not run; "" when it may.
	Disabled string
	// Insecure: a part of its path is writable by someone other than root
	// while root (or a set-uid/gid-root binary) would run it. With script
	// security this disables the script; without, it only warns.
	Insecure string
}

// CheckScript vets the command cmd (as written in keepalived.conf) run as
// who. security is global_defs' enable_script_security. The rules are
// keepalived's:
//   - a bare name is looked up in PATH; a script that cannot be found or
//     resolved is disabled;
//   - a script that is not executable for who is disabled;
//   - when root runs it (uid or gid 0, or a set-uid/set-gid root binary),
//     every component of its resolved path must be owned
//     by root and not writable by group (unless the group is root) or
//     others (a directory with the sticky bit is fine); otherwise it is
//     insecure, and disabled when security is on.
func CheckScript(cmd string, who RunAs, security bool) ScriptCheck {
	argv, err := SplitCommand(cmd)
	if err != nil || len(argv) == 0 {
		return ScriptCheck{Disabled: "empty command"}
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return ScriptCheck{Path: path, Disabled: fmt.Sprintf("cannot find script %s in PATH", path)}
		}
		path = p
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ScriptCheck{Path: path, Disabled: fmt.Sprintf("script %s cannot be accessed: %v", path, unwrapPathErr(err))}
	}
	if !filepath.IsAbs(real) {
		if real, err = filepath.Abs(real); err != nil {
			return ScriptCheck{Path: path, Disabled: err.Error()}
		}
	}
	st, err := os.Stat(real)
	if err != nil {
		return ScriptCheck{Path: path, Disabled: fmt.Sprintf("unable to access script %s: %v", path, unwrapPathErr(err))}
	}
	sys := st.Sys().(*syscall.Stat_t)
	out := ScriptCheck{Path: path}
	if !executable(st.Mode(), sys, who) {
		out.Disabled = fmt.Sprintf("script %s is not executable for uid:gid %d:%d", path, who.UID, who.GID)
		return out
	}
	mode := st.Mode()
	rootRuns := who.UID == 0 || who.GID == 0 ||
		(sys.Uid == 0 && mode&0o100 != 0 && mode&fs.ModeSetuid != 0) ||
		(sys.Gid == 0 && mode&0o010 != 0 && mode&fs.ModeSetgid != 0)
	if !rootRuns {
		return out
	}
	// The resolved path is what runs; it has no symlinks left, so a
	// symlinked /bin on a merged-/usr system is fine (keepalived 2.2.7
	// checks the resolved path too).
	if why := unsafePath(real); why != "" {
		out.Insecure = fmt.Sprintf("unsafe permissions for script %s: %s", path, why)
		if security {
			out.Disabled = out.Insecure
		}
	}
	return out
}

// executable is keepalived's is_executable: root needs any x bit; the
// owner the user's; a member of the file's group the group's; others the
// others'.
func executable(mode fs.FileMode, st *syscall.Stat_t, who RunAs) bool {
	perm := mode.Perm()
	switch {
	case who.UID == 0:
		return perm&0o111 != 0
	case who.UID == st.Uid:
		return perm&0o100 != 0
	case who.GID == st.Gid:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}

// unsafePath walks every component of path without following symlinks and
// reports the first one a non-root user could change ("" when none).
func unsafePath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err.Error()
	}
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	cur := "/"
	for i := -1; i < len(parts); i++ {
		if i >= 0 {
			cur = filepath.Join(cur, parts[i])
		}
		st, err := os.Lstat(cur)
		if err != nil {
			return fmt.Sprintf("%s: %v", cur, unwrapPathErr(err))
		}
		sys := st.Sys().(*syscall.Stat_t)
		last := i == len(parts)-1
		mode := st.Mode()
		if (!last && !mode.IsDir()) || (last && !mode.IsRegular() && mode&fs.ModeSymlink == 0) {
			return fmt.Sprintf("%s has the wrong file type", cur)
		}
		perm := mode.Perm()
		checked := (mode.IsDir() && mode&fs.ModeSticky == 0) || mode.IsRegular()
		switch {
		case sys.Uid != 0:
			return fmt.Sprintf("%s is owned by uid %d, not root", cur, sys.Uid)
		case checked && sys.Gid != 0 && perm&0o020 != 0:
			return fmt.Sprintf("%s is writable by group %d", cur, sys.Gid)
		case checked && perm&0o002 != 0:
			return fmt.Sprintf("%s is writable by everyone", cur)
		}
	}
	return ""
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
