package arbiter

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDeadline(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const ttl = 5 * time.Second
	// window = 5 s · (1 − 1e-3) − 0.5 s = 4.495 s
	const window = 4495 * time.Millisecond

	type step struct {
		renew     bool // else Start
		sent, got time.Duration
		ttl       time.Duration
		// expectations after the step
		moved, alive bool
		until        time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"grant sets D from the send time", []step{
			{sent: 0, got: 10 * time.Millisecond, ttl: ttl, alive: true, until: window},
		}},
		{"keepalive success extends", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: time.Second, got: 1010 * time.Millisecond, ttl: ttl, moved: true, alive: true, until: time.Second + window},
		}},
		{"slow RPC counts from the send, not the receipt", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: 500 * time.Millisecond, got: 3 * time.Second, ttl: ttl, moved: true, alive: true, until: 500*time.Millisecond + window},
		}},
		{"an older keepalive answered late never moves D back", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: time.Second, got: 1100 * time.Millisecond, ttl: ttl, moved: true, alive: true, until: time.Second + window},
			{renew: true, sent: 500 * time.Millisecond, got: 1200 * time.Millisecond, ttl: ttl, alive: true, until: time.Second + window},
		}},
		{"TTL 0 is lease not found: lost at once", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: time.Second, got: 1010 * time.Millisecond, ttl: 0, until: window},
		}},
		{"negative TTL: lost", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: time.Second, got: time.Second, ttl: -time.Second, until: window},
		}},
		{"after D no renewal, even of a keepalive sent before D", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: 4 * time.Second, got: window, ttl: ttl, until: window},
			{renew: true, sent: 5 * time.Second, got: 5 * time.Second, ttl: ttl, until: window},
		}},
		{"a lost lease stays lost", []step{
			{sent: 0, got: 0, ttl: ttl, alive: true, until: window},
			{renew: true, sent: time.Second, got: time.Second, ttl: 0, until: window},
			{renew: true, sent: 2 * time.Second, got: 2 * time.Second, ttl: ttl, until: window},
		}},
		{"grant answered after its own deadline is unusable", []step{
			{sent: 0, got: 5 * time.Second, ttl: ttl, until: window},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDeadline(0, 0)
			for i, s := range tt.steps {
				var moved, alive bool
				if s.renew {
					moved, alive = d.Renew(at(s.sent), at(s.got), s.ttl)
				} else {
					alive = d.Start(at(s.sent), at(s.got), s.ttl)
				}
				type res struct {
					Moved, Alive bool
					Until        time.Duration
				}
				want := res{s.moved, s.alive, s.until}
				got := res{moved, alive, d.Until().Sub(t0)}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("step %d (-want +got):\n%s", i, diff)
				}
				if alive == d.Expired(at(s.got)) {
					t.Errorf("step %d: alive %v but Expired(%s) = %v", i, alive, s.got, d.Expired(at(s.got)))
				}
			}
		})
	}
}

func TestDeadlineExpiresAtDExactly(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := NewDeadline(0, 0)
	d.Start(t0, t0, 5*time.Second)
	dl := d.Until()
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{dl.Add(-time.Nanosecond), false},
		{dl, true},
		{dl.Add(time.Nanosecond), true},
	} {
		if got := d.Expired(tc.at); got != tc.want {
			t.Errorf("Expired(D%+v) = %v, want %v", tc.at.Sub(dl), got, tc.want)
		}
	}
	if got := d.Remaining(dl); got != 0 {
		t.Errorf("Remaining(D) = %s, want 0", got)
	}
}

func TestVIPLifetime(t *testing.T) {
	// The lifetime is vip.FenceLifetime(D − now): whole seconds rounded
	// DOWN after subtracting the kernel's 1.5 s removal lateness.
	t0 := time.Unix(1000, 0)
	d := NewDeadline(0, 0)
	d.Start(t0, t0, 5*time.Second) // D = t0 + 4.495 s
	D := d.Until()
	tests := []struct {
		left time.Duration // D − now
		want time.Duration
		ok   bool
	}{
		{4495 * time.Millisecond, 2 * time.Second, true},
		{3500 * time.Millisecond, 2 * time.Second, true},
		{3499 * time.Millisecond, time.Second, true}, // 1.999 s → 1 s, never 2
		{2500 * time.Millisecond, time.Second, true},
		{2499 * time.Millisecond, 0, false}, // not even 1 s fits
		{time.Millisecond, 0, false},
		{0, 0, false},            // at D
		{-time.Second, 0, false}, // after D
	}
	for _, tt := range tests {
		got, ok := d.VIPLifetime(D.Add(-tt.left))
		if got != tt.want || ok != tt.ok {
			t.Errorf("VIPLifetime(D−%s) = %s, %v; want %s, %v", tt.left, got, ok, tt.want, tt.ok)
		}
		// The fence property itself: a VIP refreshed now with this
		// lifetime is gone from the kernel by D.
		if ok && tt.left < got+1500*time.Millisecond {
			t.Errorf("VIPLifetime(D−%s) = %s outlives D", tt.left, got)
		}
	}
	if ok := d.FenceUntil(); !ok.Equal(D.Add(-2500 * time.Millisecond)) {
		t.Errorf("FenceUntil = D%+v, want D−2.5s", ok.Sub(D))
	}
	d.Lose()
	if _, ok := d.VIPLifetime(t0); ok {
		t.Errorf("VIPLifetime after Lose is ok")
	}
}

func TestConfigDefaults(t *testing.T) {
	type knobs struct {
		TTL, Every, RPC, Hold, Grace time.Duration
		Prefix, Policy               string
	}
	tests := []struct {
		name string
		in   Config
		want knobs
	}{
		{"zero", Config{Node: "n1"}, knobs{5 * time.Second, 500 * time.Millisecond, time.Second, 2 * time.Second, 500 * time.Millisecond, "/vipd", "release"}},
		{"ttl 2s", Config{Node: "n1", LeaseTTL: 2 * time.Second}, knobs{2 * time.Second, 333333333, 666666666, 2 * time.Second, 500 * time.Millisecond, "/vipd", "release"}},
		{"negative hold and grace", Config{Node: "n1", StartupHold: -1, Grace: -1}, knobs{5 * time.Second, 500 * time.Millisecond, time.Second, 0, 0, "/vipd", "release"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in.withDefaults()
			got := knobs{c.LeaseTTL, c.KeepAliveEvery, c.RPCTimeout, c.StartupHold, c.Grace, c.Prefix, c.OnEtcdLoss}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The per-RPC timeout rule from the safety notes.
			window := time.Duration(float64(c.LeaseTTL)*(1-c.DriftRate)) - c.Margin
			if c.RPCTimeout > window/2 {
				t.Errorf("RPCTimeout %s > (TTL(1−ρ)−m)/2 = %s", c.RPCTimeout, window/2)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"defaults", Config{Node: "n1"}, false},
		{"ttl 4s", Config{Node: "n1", LeaseTTL: 4 * time.Second}, false},
		{"ttl 3s cannot fence", Config{Node: "n1", LeaseTTL: 3 * time.Second}, true},
		{"no node", Config{}, true},
		{"keep is not implemented", Config{Node: "n1", OnEtcdLoss: "keep"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
