package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// DefaultSocket is where vipd listens and vipctl connects unless told otherwise.
const DefaultSocket = "/run/vipd/vipd.sock"

// Backend is what the daemon exposes to the control socket.
type Backend interface {
	Status() Status
	Reload() error
	// Handover steps the named instance (and its sync group) down so a
	// backup takes over; it fails unless the instance is MASTER here.
	Handover(instance, to string) error
}

// Server serves the control API on a unix socket readable by root only.
type Server struct {
	path    string
	backend Backend
	log     *slog.Logger
}

// NewServer returns a server for backend on the unix socket path.
func NewServer(path string, backend Backend, log *slog.Logger) *Server {
	return &Server{path: path, backend: backend, log: log}
}

// Run listens until ctx is cancelled, then removes the socket.
func (s *Server) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("control socket dir: %w", err)
	}
	// A socket left by a killed vipd would make Listen fail; nobody else owns it.
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(s.path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket mode: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.backend.Status())
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := s.backend.Reload(); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/handover/{instance}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.backend.Handover(r.PathValue("instance"), r.URL.Query().Get("to")); err != nil {
			writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shut)
		os.Remove(s.path)
		return nil
	case err := <-errc:
		return fmt.Errorf("control socket: %w", err)
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
