package notify

import (
	"fmt"
	"io"
	"sync"
)

// FIFOLine formats ev as a notify_fifo line, e.g. `INSTANCE "VI_1" MASTER 100`
// followed by a newline (keepalived vrrp_notify.c).
func FIFOLine(ev Event) string {
	return fmt.Sprintf("%s \"%s\" %s %d\n", ev.Type, ev.Name, ev.State, ev.Priority)
}

// FIFOWriter writes notify_fifo lines to w, one whole line per Write, in
// the order of the calls. Call it right after Notify for the same event:
// unlike the scripts it is written synchronously, which is why keepalived's
// maintainer recommends the FIFO for reliable ordering.
type FIFOWriter struct {
	mu sync.Mutex // serialises lines
	w  io.Writer
}

// NewFIFOWriter returns a FIFOWriter writing to w (typically a FIFO opened
// by OpenFIFO).
func NewFIFOWriter(w io.Writer) *FIFOWriter { return &FIFOWriter{w: w} }

// Write writes the line for ev.
func (f *FIFOWriter) Write(ev Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := io.WriteString(f.w, FIFOLine(ev)); err != nil {
		return fmt.Errorf("notify fifo: %w", err)
	}
	return nil
}
