package lb

import (
	"context"
	"fmt"
	"net"
	"runtime"
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
	// One listener on all loopback addresses answers for 1,000 real
	// servers 127.1.x.y: one socket, and the kernel's 127/8 does the rest.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
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

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
