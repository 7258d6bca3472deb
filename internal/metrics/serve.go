package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the exposition is served.
const Path = "/metrics"

// shutdownTimeout bounds the wait for in-flight scrapes when ctx ends; a
// scrape is worth less than a prompt daemon shutdown.
const shutdownTimeout = 2 * time.Second

// Serve listens on addr (host:port) and serves reg's metrics at /metrics
// until ctx ends. It returns nil after ctx ends and an error if it cannot
// listen or the server fails.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	if ctx.Err() != nil {
		return nil // already shutting down: nothing to serve
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, reg, log)
}

// ServeListener is Serve on a listener the caller opened (a test's port 0,
// or a socket handed over by systemd). It closes ln before returning.
func ServeListener(ctx context.Context, ln net.Listener, reg *prometheus.Registry, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
		// A collector error (say, two instances exporting the same series)
		// should not blank the whole scrape: serve what was gathered.
		ErrorHandling: promhttp.ContinueOnError,
		// Counts promhttp_metric_handler_errors_total on reg.
		Registry: reg,
	})
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.InstrumentMetricHandler(reg, h))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// The server goroutine is owned here: Serve waits for it on both the
	// error and the shutdown path, so nothing outlives the call.
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", Path)

	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Scrapes still running past the timeout: cut them off.
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// ServeRetry is Serve for a daemon that must not stop because its metrics
// port is taken: when the address cannot be served it logs why (at most
// once a minute) and tries again every retry until ctx ends. It returns
// only then.
func ServeRetry(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger, retry time.Duration) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lastLog time.Time
	for {
		err := Serve(ctx, addr, reg, log)
		if ctx.Err() != nil {
			return
		}
		if err != nil && time.Since(lastLog) >= time.Minute {
			log.Error("metrics not served; VRRP is not affected, retrying", "addr", addr, "err", err, "retry", retry)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}
