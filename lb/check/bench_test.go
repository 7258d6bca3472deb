package check

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// BenchmarkThousandTCPChecks runs 1000 TCP_CHECK probes concurrently
// against one loopback listener per iteration, as 1000 real servers
// checked in the same tick would.
func BenchmarkThousandTCPChecks(b *testing.B) {
	addr := listenTCP(b)
	probers := make([]Prober, 1000)
	for i := range probers {
		p, err := NewProber(&config.Checker{Kind: config.CheckTCP, ConnectTimeout: 5 * time.Second}, addr, nil)
		if err != nil {
			b.Fatal(err)
		}
		probers[i] = p
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		failed := make(chan Result, len(probers))
		// At most 100 at once: the listen backlog and the shared CI box
		// would otherwise turn this into a measure of SYN drops.
		sem := make(chan struct{}, 100)
		for _, p := range probers {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if r := p.Probe(ctx); !r.OK {
					failed <- r
				}
			}()
		}
		wg.Wait()
		close(failed)
		for r := range failed {
			b.Fatalf("probe failed: %+v", r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/check")
}
