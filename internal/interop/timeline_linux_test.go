package interop

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/internal/lab"
)

// heldFrom is the first time at or after t that node was seen holding the
// VIP (zero if never): the moment a takeover completed.
func heldFrom(v lab.VIPReport, node string, t time.Time) time.Time {
	for _, s := range v.Spans {
		if !slices.Contains(s.Holders, node) || s.End.Before(t) {
			continue
		}
		if s.Start.Before(t) {
			return t
		}
		return s.Start
	}
	return time.Time{}
}

// splitBetween is how long two or more nodes held the VIP within [from, to].
func splitBetween(v lab.VIPReport, from, to time.Time) time.Duration {
	var d time.Duration
	for _, s := range v.Spans {
		if len(s.Holders) < 2 {
			continue
		}
		start, end := s.Start, s.End
		if start.Before(from) {
			start = from
		}
		if end.After(to) {
			end = to
		}
		if end.After(start) {
			d += end.Sub(start)
		}
	}
	return d
}

// holdersSince lists every distinct holder set seen from t on.
func holdersSince(v lab.VIPReport, t time.Time) [][]string {
	var sets [][]string
	for _, s := range v.Spans {
		if s.End.Before(t) {
			continue
		}
		if n := len(sets); n == 0 || !slices.Equal(sets[n-1], s.Holders) {
			sets = append(sets, s.Holders)
		}
	}
	return sets
}

// pause waits d unless the test ends first: a fixed observation window,
// not a poll.
func pause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// startObserver samples vip on every node of l until the lab closes.
func startObserver(t testing.TB, l *lab.Lab, vip netip.Addr) *lab.Observer {
	t.Helper()
	o := lab.NewObserver(l, []netip.Addr{vip}, 0)
	if err := o.Start(); err != nil {
		t.Fatal(err)
	}
	return o
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func TestTimelineHelpers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(msec int) time.Time { return t0.Add(time.Duration(msec) * time.Millisecond) }
	v := lab.VIPReport{Spans: []lab.Span{
		{Start: at(0), End: at(100), Holders: []string{"n1"}},
		{Start: at(100), End: at(300), Holders: nil},
		{Start: at(300), End: at(700), Holders: []string{"n1", "n2"}},
		{Start: at(700), End: at(900), Holders: []string{"n2"}},
	}}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"held from inside a span", heldFrom(v, "n1", at(50)), at(50)},
		{"held from a later span", heldFrom(v, "n2", at(50)), at(300)},
		{"never held after", heldFrom(v, "n1", at(800)), time.Time{}},
		{"split inside window", splitBetween(v, at(400), at(600)), 200 * time.Millisecond},
		{"split clipped", splitBetween(v, at(0), at(500)), 200 * time.Millisecond},
		{"split whole", splitBetween(v, at(0), at(900)), 400 * time.Millisecond},
		{"holders since", holdersSince(v, at(150)), [][]string{nil, {"n1", "n2"}, {"n2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch want := tc.want.(type) {
			case time.Time:
				if got := tc.got.(time.Time); !got.Equal(want) {
					t.Errorf("got %v, want %v", got, want)
				}
			default:
				if diff := cmp.Diff(tc.want, tc.got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}
