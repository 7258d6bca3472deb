package bench

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes this machine for the report.
func Machine() []KV {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return []KV{
		{"CPU", cpu},
		{"cores (online)", strconv.Itoa(runtime.NumCPU())},
		{"kernel", readTrim("/proc/sys/kernel/osrelease")},
		{"Debian", readTrim("/etc/debian_version")},
		{"memory", memTotal()},
	}
}

// Versions of everything measured, each from the binary itself.
func Versions(vipd, keepalived string) []KV {
	return []KV{
		{"vipd", firstLine(run(vipd, "--version")) + gitDescribe()},
		{"keepalived", firstLine(run(keepalived, "-v"))},
		{"etcd", firstLine(run("etcd", "--version"))},
		{"Go", firstLine(run("go", "version"))},
	}
}

func gitDescribe() string {
	d := strings.TrimSpace(run("git", "describe", "--always", "--dirty"))
	if d == "" {
		return ""
	}
	return " (git " + d + ")"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.Join(strings.Fields(strings.TrimPrefix(line, "MemTotal:")), " ")
}

// run returns a command's combined output, or "" if it cannot run.
func run(argv ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if l == "" {
		return "unknown"
	}
	return strings.TrimSpace(l)
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
