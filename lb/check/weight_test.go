package check

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
)

func TestEffectiveWeight(t *testing.T) {
	up := Status{Up: true, Weight: -1}
	down := Status{Up: false, Weight: -1}
	tests := []struct {
		name    string
		rs      config.RealServer
		st      []Status
		weight  int
		alive   bool
		inTable bool
	}{
		{"no checkers: alive", config.RealServer{Weight: 5}, nil, 5, true, true},
		{"all up", config.RealServer{Weight: 5}, []Status{up, up}, 5, true, true},
		{"one down: removed", config.RealServer{Weight: 5}, []Status{up, down}, 0, false, false},
		{"one down, inhibit: weight 0 kept", config.RealServer{Weight: 5, InhibitOnFailure: true}, []Status{down, up}, 0, false, true},
		{"misc_dynamic exit 5: weight 3", config.RealServer{Weight: 5}, []Status{up, {Up: true, Weight: 3}}, 3, true, true},
		{"misc_dynamic exit 2: weight 0 but alive", config.RealServer{Weight: 5}, []Status{{Up: true, Weight: 0}}, 0, true, true},
		{"two dynamic checkers add offsets", config.RealServer{Weight: 10}, []Status{{Up: true, Weight: 12}, {Up: true, Weight: 7}}, 9, true, true},
		{"offsets clamp at 0", config.RealServer{Weight: 10}, []Status{{Up: true, Weight: 0}, {Up: true, Weight: 0}}, 0, true, true},
		{"dynamic but down", config.RealServer{Weight: 10}, []Status{{Up: false, Weight: 3}}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, alive := EffectiveWeight(tt.rs, tt.st)
			type out struct {
				Weight                  int
				Alive, InTable, AliveFn bool
			}
			want := out{tt.weight, tt.alive, tt.inTable, tt.alive}
			got := out{w, alive, InTable(tt.rs, alive), Alive(tt.st)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuorum(t *testing.T) {
	// ws is the sum of the live real servers' weights.
	ws := func(w ...int) int {
		sum := 0
		for _, x := range w {
			sum += x
		}
		return sum
	}
	tests := []struct {
		name      string
		quorum    int
		hyst      int
		live      int
		was, want bool
	}{
		{"default quorum 1: one live server gains", 0, 0, ws(1), false, true},
		{"no live server: never gained", 1, 0, ws(), false, false},
		{"no live server: lost", 1, 0, ws(), true, false},
		{"weight 0 servers only: lost even with quorum reached by rule", 1, 1, ws(0, 0), true, false},
		{"gain needs quorum+hysteresis", 4, 1, ws(2, 2), false, false},
		{"gain at quorum+hysteresis", 4, 1, ws(3, 2), false, true},
		{"kept above quorum-hysteresis", 4, 1, ws(3), true, true},
		{"kept between the thresholds", 4, 1, ws(2, 2), true, true},
		{"lost below quorum-hysteresis", 4, 1, ws(1, 1), true, false},
		{"no hysteresis: lost just below", 3, 0, ws(2), true, false},
		{"no hysteresis: gained at quorum", 3, 0, ws(1, 2), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := config.VirtualServer{Quorum: tt.quorum, Hysteresis: tt.hyst}
			if got := Quorum(vs, tt.live, tt.was); got != tt.want {
				t.Errorf("Quorum(q=%d h=%d w=%d, was %v) = %v, want %v", tt.quorum, tt.hyst, tt.live, tt.was, got, tt.want)
			}
		})
	}
}
