package metrics

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Register registers c on reg together with vipd_build_info{version,
// goversion} and the standard Go runtime and process collectors. It
// registers all or nothing: on an error the ones already registered are
// unregistered again, so a caller may retry on another registry.
func Register(reg prometheus.Registerer, c *Collector, version string) error {
	if reg == nil || c == nil {
		return errors.New("metrics: register: nil registerer or collector")
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        NameBuildInfo,
		Help:        "The vipd version and the Go version it was built with; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	cs := []prometheus.Collector{
		c,
		build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for i, col := range cs {
		if err := reg.Register(col); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}
