package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// 100 on every Linux architecture Debian ships.
const clockTick = 100

// Usage is what a process group has used.
type Usage struct {
	Pids int
	CPU  time.Duration // utime+stime summed over the group
	RSS  int64         // VmRSS summed over the group, bytes
}

// GroupUsage sums CPU time and resident memory over every live process
// whose process group is pgid (keepalived's parent and its VRRP or
// checker child; vipd alone).
func GroupUsage(pgid int) (Usage, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return Usage{}, fmt.Errorf("bench: read /proc: %w", err)
	}
	var u Usage
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		st, err := parseStat(b)
		if err != nil || st.pgrp != pgid {
			continue
		}
		rss, err := vmRSS(pid)
		if err != nil {
			continue
		}
		u.Pids++
		u.CPU += st.cpu
		u.RSS += rss
	}
	if u.Pids == 0 {
		return u, fmt.Errorf("bench: no live process in group %d", pgid)
	}
	return u, nil
}

type procStat struct {
	pgrp int
	cpu  time.Duration
}

// parseStat reads pgrp (field 5) and utime+stime (fields 14, 15) of a
// /proc/PID/stat line; the command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("bench: malformed stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("bench: short stat %q", b)
	}
	pgrp, err1 := strconv.Atoi(f[5-3])
	ut, err2 := strconv.ParseInt(f[14-3], 10, 64)
	stt, err3 := strconv.ParseInt(f[15-3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("bench: malformed stat %q", b)
	}
	return procStat{pgrp: pgrp, cpu: time.Duration(ut+stt) * time.Second / clockTick}, nil
}

func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS reads "VmRSS:   1234 kB" from /proc/PID/status (absent for
// kernel threads and zombies: 0).
func parseVmRSS(b []byte) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("bench: malformed %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: malformed %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, nil
}
