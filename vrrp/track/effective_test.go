package track

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEffective(t *testing.T) {
	good := func(name, kind string) Status { return Status{Name: name, Kind: kind, Known: true, OK: true} }
	bad := func(name, kind string) Status { return Status{Name: name, Kind: kind, Known: true, OK: false} }
	file := func(name string, v int) Status {
		return Status{Name: name, Kind: KindFile, Known: true, OK: true, Value: v}
	}
	scr := func(name string, w int, rev bool) Tracker {
		return Tracker{Name: name, Kind: KindScript, Weight: w, Reverse: rev}
	}
	itf := func(name string, w int, rev bool) Tracker {
		return Tracker{Name: name, Kind: KindInterface, Weight: w, Reverse: rev}
	}
	fil := func(name string, w int, rev bool) Tracker {
		return Tracker{Name: name, Kind: KindFile, Weight: w, Reverse: rev}
	}
	sts := func(s ...Status) map[string]Status {
		m := map[string]Status{}
		for _, x := range s {
			m[x.Name] = x
		}
		return m
	}
	type want struct {
		Prio   uint8
		Fault  bool
		Reason string
	}
	tests := []struct {
		name     string
		base     uint8
		trackers []Tracker
		st       map[string]Status
		want     want
	}{
		{"no trackers", 100, nil, nil, want{100, false, ""}},
		{"script +w ok", 100, []Tracker{scr("chk", 20, false)}, sts(good("chk", KindScript)),
			want{120, false, "chk ok (+20)"}},
		{"script +w failed", 100, []Tracker{scr("chk", 20, false)}, sts(bad("chk", KindScript)),
			want{100, false, ""}},
		{"script -w failed", 100, []Tracker{scr("chk_nginx", -20, false)}, sts(bad("chk_nginx", KindScript)),
			want{80, false, "chk_nginx failed (-20)"}},
		{"script -w ok", 100, []Tracker{scr("chk", -20, false)}, sts(good("chk", KindScript)),
			want{100, false, ""}},
		{"script +w reverse ok", 100, []Tracker{scr("chk", 20, true)}, sts(good("chk", KindScript)),
			want{80, false, "chk ok (-20, reverse)"}},
		{"script +w reverse failed", 100, []Tracker{scr("chk", 20, true)}, sts(bad("chk", KindScript)),
			want{100, false, ""}},
		{"script -w reverse failed", 100, []Tracker{scr("chk", -20, true)}, sts(bad("chk", KindScript)),
			want{120, false, "chk failed (+20, reverse)"}},
		{"script -w reverse ok", 100, []Tracker{scr("chk", -20, true)}, sts(good("chk", KindScript)),
			want{100, false, ""}},
		{"script weight 0 failed", 100, []Tracker{scr("chk", 0, false)}, sts(bad("chk", KindScript)),
			want{100, true, "chk failed (fault)"}},
		{"script weight 0 ok", 100, []Tracker{scr("chk", 0, false)}, sts(good("chk", KindScript)),
			want{100, false, ""}},
		{"script weight 0 reverse ok", 100, []Tracker{scr("chk", 0, true)}, sts(good("chk", KindScript)),
			want{100, true, "chk ok (fault, reverse)"}},
		{"script weight 0 reverse failed", 100, []Tracker{scr("chk", 0, true)}, sts(bad("chk", KindScript)),
			want{100, false, ""}},
		{"script weight 0 waiting (no status)", 100, []Tracker{scr("chk", 0, false)}, nil,
			want{100, true, "waiting for first result of script chk"}},
		{"script weight 0 waiting (not known)", 100, []Tracker{scr("chk", 0, false)},
			sts(Status{Name: "chk", Kind: KindScript}),
			want{100, true, "waiting for first result of script chk"}},
		{"script weighted not known: no adjustment, no fault", 100, []Tracker{scr("chk", -20, false)},
			sts(Status{Name: "chk", Kind: KindScript}), want{100, false, ""}},
		{"status of another kind is ignored", 100, []Tracker{scr("eth0", 0, false)}, sts(good("eth0", KindInterface)),
			want{100, true, "waiting for first result of script eth0"}},
		{"clamp high", 250, []Tracker{scr("chk", 10, false)}, sts(good("chk", KindScript)),
			want{254, false, "chk ok (+10); total 260 clamped to 254"}},
		{"clamp high to 254 not 255", 254, []Tracker{scr("chk", 1, false)}, sts(good("chk", KindScript)),
			want{254, false, "chk ok (+1); total 255 clamped to 254"}},
		{"clamp low", 10, []Tracker{scr("chk", -50, false)}, sts(bad("chk", KindScript)),
			want{1, false, "chk failed (-50); total -40 clamped to 1"}},
		{"owner ignores weights", 255, []Tracker{scr("chk", -50, false)}, sts(bad("chk", KindScript)),
			want{255, false, "address owner, priority stays 255 (ignoring chk failed (-50))"}},
		{"owner can still fault", 255, []Tracker{scr("chk", 0, false)}, sts(bad("chk", KindScript)),
			want{255, true, "chk failed (fault)"}},
		{"interface weight 0 down", 100, []Tracker{itf("eth1", 0, false)}, sts(bad("eth1", KindInterface)),
			want{100, true, "eth1 down (fault)"}},
		{"interface weight 0 up", 100, []Tracker{itf("eth1", 0, false)}, sts(good("eth1", KindInterface)),
			want{100, false, ""}},
		{"interface weight 0 reverse up", 100, []Tracker{itf("eth1", 0, true)}, sts(good("eth1", KindInterface)),
			want{100, true, "eth1 up (fault, reverse)"}},
		{"interface weight 0 reverse down", 100, []Tracker{itf("eth1", 0, true)}, sts(bad("eth1", KindInterface)),
			want{100, false, ""}},
		{"interface +w up", 100, []Tracker{itf("eth1", 5, false)}, sts(good("eth1", KindInterface)),
			want{105, false, "eth1 up (+5)"}},
		{"interface -w down", 100, []Tracker{itf("eth1", -5, false)}, sts(bad("eth1", KindInterface)),
			want{95, false, "eth1 down (-5)"}},
		{"interface -w reverse down", 100, []Tracker{itf("eth1", -5, true)}, sts(bad("eth1", KindInterface)),
			want{105, false, "eth1 down (+5, reverse)"}},
		{"interface weight 0 waiting", 100, []Tracker{itf("eth1", 0, false)}, nil,
			want{100, true, "waiting for first result of interface eth1"}},
		{"file value×weight", 100, []Tracker{fil("f", 10, false)}, sts(file("f", 3)),
			want{130, false, "f value 3 (+30)"}},
		{"file negative value", 100, []Tracker{fil("f", 10, false)}, sts(file("f", -3)),
			want{70, false, "f value -3 (-30)"}},
		{"file reverse", 100, []Tracker{fil("f", 2, true)}, sts(file("f", 5)),
			want{90, false, "f value 5 (-10, reverse)"}},
		{"file weight 0 value 0", 100, []Tracker{fil("f", 0, false)}, sts(file("f", 0)),
			want{100, false, ""}},
		{"file weight 0 non-zero", 100, []Tracker{fil("f", 0, false)}, sts(file("f", 7)),
			want{100, true, "f value 7 (fault)"}},
		{"file weight 0 reverse zero", 100, []Tracker{fil("f", 0, true)}, sts(file("f", 0)),
			want{100, true, "f value 0 (fault, reverse)"}},
		{"file weight 0 reverse non-zero", 100, []Tracker{fil("f", 0, true)}, sts(file("f", 7)),
			want{100, false, ""}},
		{"file product -254 faults", 100, []Tracker{fil("f", 2, false)}, sts(file("f", -127)),
			want{100, true, "f value -127 (fault)"}},
		{"file product below -254 faults", 100, []Tracker{fil("f", 10, false)}, sts(file("f", -30)),
			want{100, true, "f value -30 (fault)"}},
		{"file product -253 does not fault", 100, []Tracker{fil("f", 1, false)}, sts(file("f", -253)),
			want{1, false, "f value -253 (-253); total -153 clamped to 1"}},
		{"file product clamped to 253", 1, []Tracker{fil("f", 1, false)}, sts(file("f", 1000)),
			want{254, false, "f value 1000 (+253)"}},
		{"file unknown weighted counts as 0", 100, []Tracker{fil("f", 1, false)}, nil, want{100, false, ""}},
		{"file unknown weight 0 waits", 100, []Tracker{fil("f", 0, false)}, nil,
			want{100, true, "waiting for first result of file f"}},
		{"multiple summed", 100,
			[]Tracker{scr("chk", 10, false), itf("eth1", -5, false), fil("f", 2, false), scr("chk2", -7, false)},
			sts(good("chk", KindScript), bad("eth1", KindInterface), file("f", 3), good("chk2", KindScript)),
			want{111, false, "chk ok (+10), eth1 down (-5), f value 3 (+6)"}},
		{"multiple faults listed", 100,
			[]Tracker{scr("chk", 0, false), itf("eth1", 0, false), scr("chk2", 10, false)},
			sts(bad("chk", KindScript), bad("eth1", KindInterface), good("chk2", KindScript)),
			want{110, true, "chk failed (fault); eth1 down (fault)"}},
		{"unknown kind faults", 100, []Tracker{{Name: "x", Kind: "bfd"}}, nil,
			want{100, true, `unknown tracker kind "bfd" for x`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, f, r := Effective(tt.base, tt.trackers, tt.st)
			if diff := cmp.Diff(tt.want, want{p, f, r}); diff != "" {
				t.Errorf("Effective() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
