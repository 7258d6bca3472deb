package ipvs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "vipd", "ipvs.json") // directories made on save
	o, err := loadOwned(path)
	if err != nil || len(o) != 0 {
		t.Fatalf("loadOwned(missing) = %v, %v; want empty, nil", o, err)
	}
	want := owned{"tcp:10.0.0.100:80": "web", "fwmark:ipv6:7": "fwm"}
	if err := want.save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{
  "version": 1,
  "services": [
    {
      "key": "fwmark:ipv6:7",
      "name": "fwm"
    },
    {
      "key": "tcp:10.0.0.100:80",
      "name": "web"
    }
  ]
}
`
	if diff := cmp.Diff(wantJSON, string(b)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	got, err := loadOwned(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the state file (no temporary left)", len(entries))
	}
	if err := (owned{}).save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty list: file still there (%v)", err)
	}
	if err := (owned{}).save(path); err != nil {
		t.Errorf("saving an empty list twice: %v", err)
	}
}

func TestStateFileUnreadable(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":     "{not json",
		"old version": `{"version": 0, "services": []}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ipvs.json")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := loadOwned(path); err == nil {
				t.Error("loadOwned succeeded, want an error")
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	web := spec(t, Service{Name: "web", VIP: vip, Port: 80, Backends: []Backend{rs1}})
	dns := spec(t, Service{Name: "dns", VIP: vip, Port: 53, Proto: "udp"})
	hand := spec(t, Service{Name: "hand", VIP: vip, Port: 22}) // an operator's
	tests := []struct {
		name        string
		kernel      []svcSpec
		own         owned
		desired     []svcSpec
		wantCurrent []string
		wantApply   []string
		conflict    bool
	}{
		{"empty kernel", nil, owned{}, []svcSpec{web, dns}, nil, []string{"web", "dns"}, false},
		{"operator's service ignored", []svcSpec{hand}, owned{}, []svcSpec{web}, nil, []string{"web"}, false},
		{"listed service adopted", []svcSpec{web, hand}, owned{web.Key.String(): "web"}, []svcSpec{web}, []string{"web"}, []string{"web"}, false},
		{"listed, not desired: current (to delete)", []svcSpec{web, dns}, owned{web.Key.String(): "web", dns.Key.String(): "dns"}, []svcSpec{web},
			[]string{"web", "dns"}, []string{"web"}, false},
		{"unlisted equal service: conflict", []svcSpec{web, hand}, owned{}, []svcSpec{web, dns}, nil, []string{"dns"}, true},
		{"listed but gone: made again", nil, owned{web.Key.String(): "web"}, []svcSpec{web}, nil, []string{"web"}, false},
	}
	names := func(ss []svcSpec) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			current, apply, err := reconcile(tc.kernel, tc.own, tc.desired)
			if diff := cmp.Diff(tc.wantCurrent, names(current)); diff != "" {
				t.Errorf("current (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantApply, names(apply)); diff != "" {
				t.Errorf("apply (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, ErrConflict); got != tc.conflict {
				t.Errorf("conflict error = %v, want conflict %v", err, tc.conflict)
			}
		})
	}
}
