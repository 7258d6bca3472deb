package bench

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// comm with a space and a ')' in it; pgrp 4242, utime 150, stime 50.
	line := []byte("1234 (evil) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 1 1 1")
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.pgrp != 4242 || st.cpu != 2*time.Second {
		t.Errorf("parseStat = %+v, want pgrp 4242 cpu 2s", st)
	}
	if _, err := parseStat([]byte("garbage")); err == nil {
		t.Error("parseStat(garbage): no error")
	}
}

func TestParseVmRSS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"Name:\tx\nVmRSS:\t   41708 kB\nVmData: 1 kB\n", 41708 * 1024, false},
		{"Name:\tkthread\n", 0, false},
		{"VmRSS: lots\n", 0, true},
	} {
		got, err := parseVmRSS([]byte(tc.in))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("parseVmRSS(%q) = %d, %v; want %d, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestGroupUsageSelf reads this test process's own group: no root and no
// namespaces needed.
func TestGroupUsageSelf(t *testing.T) {
	pgid, err := syscallGetpgid()
	if err != nil {
		t.Skipf("getpgid: %v", err)
	}
	u, err := GroupUsage(pgid)
	if err != nil {
		t.Fatal(err)
	}
	if u.Pids < 1 || u.RSS <= 0 {
		t.Errorf("GroupUsage(own group %d) = %+v: want this process counted", pgid, u)
	}
	t.Logf("own group %d (pid %d): %+v", pgid, os.Getpid(), u)
}

func syscallGetpgid() (int, error) { return syscall.Getpgid(0) }
