package lb

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkManagerThousandRealServers is the load balancer's steady cost:
// 1,000 real servers with a TCP_CHECK each at delay_loop 1, the whole
// manager running (checkers, state, applies to a fake plane) for one
// second per iteration. It reports CPU seconds per minute of wall time
// and the heap in use, as the footprint an operator pays.
func BenchmarkManagerThousandRealServers(b *testing.B) {
	port := startListenerProcess(b)
	var src strings.Builder
	src.WriteString("virtual_server 10.0.0.1 80 {\n    delay_loop 1\n    lb_algo wrr\n")
	for i := range 1000 {
		fmt.Fprintf(&src, "    real_server 127.1.%d.%d %d {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", i/250, i%250+1, port)
	}
	src.WriteString("}\n")
	cfg := parse(b, src.String())
	plane := newFakePlane()
	m, err := New(cfg, plane, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	time.Sleep(1500 * time.Millisecond) // past the warmup spread (delay_loop)

	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	wall := b.Elapsed()
	used := cpuTime() - cpu0
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cancel()
	<-done
	up := 0
	for _, vs := range m.Status().VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.Alive {
				up++
			}
		}
	}
	if up != 1000 {
		b.Fatalf("%d of 1000 real servers up", up)
	}
	b.ReportMetric(used.Seconds()/wall.Minutes(), "cpu-s/min")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(float64(plane.applies), "applies")
}

// startListenerProcess runs TestHelperListener in a child process: one
// listener on all addresses, so 1,000 real servers 127.1.x.y share one
// socket (the kernel's 127/8 does the rest), and its accepts are not
// counted in the benchmark's CPU time. It returns the port.
func startListenerProcess(b *testing.B) int {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperListener$")
	cmd.Env = append(os.Environ(), "VIPD_HELPER_LISTENER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("listener process: %v", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "port ")))
	if err != nil {
		b.Fatalf("listener process said %q", line)
	}
	return port
}

// TestHelperListener is the benchmark's listener process; it does nothing
// in a normal test run.
func TestHelperListener(t *testing.T) {
	if os.Getenv("VIPD_HELPER_LISTENER") != "1" {
		t.Skip("helper process for BenchmarkManagerThousandRealServers")
	}
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
