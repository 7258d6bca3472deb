package bench

import (
	"time"

	"github.com/vipd/vipd/internal/lab"
)

// Window is how long, between from and to, nobody held the VIP and how
// long two or more nodes did, from the observer's spans.
func Window(spans []lab.Span, from, to time.Time) (unheld, split time.Duration) {
	for _, s := range spans {
		a, b := s.Start, s.End
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if !b.After(a) {
			continue
		}
		switch {
		case len(s.Holders) == 0:
			unheld += b.Sub(a)
		case len(s.Holders) >= 2:
			split += b.Sub(a)
		}
	}
	return unheld, split
}
