package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// addrHandler passes the addr attribute of Serve's "serving metrics" log
// record to the test: that is how it learns the port 0 resolved to, and
// that the listener is up, without polling.
type addrHandler struct {
	slog.Handler
	addr chan string
}

func (h addrHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "serving metrics" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "addr" {
				h.addr <- a.Value.String()
			}
			return true
		})
	}
	return nil
}

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }

// upperBound is generous: it only turns a hang into a failure.
const upperBound = 10 * time.Second

func TestServe(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := Register(reg, newTestCollector(&fakeSource{st: fixture()}), "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrc := make(chan string, 1)
	log := slog.New(addrHandler{Handler: slog.DiscardHandler, addr: addrc})
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", reg, log) }()

	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	case <-time.After(upperBound):
		t.Fatal("Serve did not start listening")
	}
	t.Logf("serving on %s", addr)

	start := time.Now()
	names, code := scrape(t, "http://"+addr+Path)
	t.Logf("scrape took %v", time.Since(start))
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d", Path, code)
	}
	for _, want := range []string{
		NameBuildInfo, NameStatusUp, NameInstanceState, NameAdvertsSent, NameArbiterLease,
		"go_goroutines", "process_start_time_seconds", "promhttp_metric_handler_requests_total",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("/metrics lacks %s; has %v", want, names)
		}
	}
	if _, code := scrape(t, "http://"+addr+"/"); code != http.StatusNotFound {
		t.Errorf("GET /: status %d, want 404", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(upperBound):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still open after Serve returned")
	}
}

// scrape GETs url and returns the metric names in the text exposition.
func scrape(t *testing.T, url string) ([]string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	var names []string
	for name := range mfs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, resp.StatusCode
}

func TestServeErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name    string
		ctx     context.Context
		addr    string
		wantErr error // nil: Serve must return nil
		wantMsg string
	}{
		{name: "port in use", ctx: t.Context(), addr: busy.Addr().String(), wantErr: syscall.EADDRINUSE, wantMsg: "metrics: listen on " + busy.Addr().String()},
		{name: "bad address", ctx: t.Context(), addr: "127.0.0.1:notaport", wantMsg: "metrics: listen on 127.0.0.1:notaport"},
		{name: "already cancelled", ctx: cancelled, addr: "127.0.0.1:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Serve(tt.ctx, tt.addr, prometheus.NewRegistry(), nil)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Serve: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Serve succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Serve: %v, want it to wrap %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantMsg, err.Error()[:min(len(tt.wantMsg), len(err.Error()))]); diff != "" {
				t.Errorf("error prefix (-want +got):\n%s", diff)
			}
		})
	}
}

// A taken port neither stops ServeRetry nor makes it return: it serves as
// soon as the port is free.
func TestServeRetryWaitsForThePort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := busy.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ServeRetry(ctx, addr, prometheus.NewRegistry(), nil, 20*time.Millisecond); close(done) }()
	select {
	case <-done:
		t.Fatal("ServeRetry returned while the port was taken")
	case <-time.After(100 * time.Millisecond):
	}
	busy.Close()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + addr + Path); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("never served once the port was free: %v", err)
	}
	resp.Body.Close()
	cancel()
	<-done
}
