//go:build !linux

package sdnotify

// monotonicUsec is unavailable off Linux; RELOADING=1 is sent without it.
func monotonicUsec() (int64, bool) { return 0, false }
