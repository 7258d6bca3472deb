package metrics

import (
	"errors"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := newTestCollector(&fakeSource{st: fixture()})
	if err := Register(reg, c, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	mfs, _ := exposition(t, reg)

	got, ok := value(mfs, NameBuildInfo, map[string]string{"version": "v1.2.3", "goversion": runtime.Version()})
	if !ok || got != 1 {
		t.Errorf("%s{version=v1.2.3,goversion=%s} = %v, %v; want 1, true", NameBuildInfo, runtime.Version(), got, ok)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range []string{NameInstanceState, "go_goroutines", "process_start_time_seconds"} {
		if !have[name] {
			t.Errorf("registry lacks %s", name)
		}
	}

	// A second registration of the same collector is refused.
	var are prometheus.AlreadyRegisteredError
	if err := Register(reg, c, "v1.2.3"); !errors.As(err, &are) {
		t.Errorf("second Register: got %v, want an AlreadyRegisteredError", err)
	}
}

// TestRegisterAllOrNothing: a failure part way leaves nothing behind.
func TestRegisterAllOrNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	// A foreign metric of the build info's name with other labels clashes.
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: NameBuildInfo, Help: "foreign"}))
	c := newTestCollector(&fakeSource{st: fixture()})
	if err := Register(reg, c, "v1"); err == nil {
		t.Fatal("Register succeeded despite a clashing vipd_build_info")
	}
	if err := reg.Register(c); err != nil {
		t.Errorf("collector still registered after a failed Register: %v", err)
	}
	if diff := cmp.Diff("metrics: register: nil registerer or collector", errString(Register(reg, nil, "v1"))); diff != "" {
		t.Errorf("nil collector (-want +got):\n%s", diff)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
