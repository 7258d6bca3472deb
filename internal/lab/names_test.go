package lab

import (
	"testing"
)

func TestGenIDRoundTrip(t *testing.T) {
	for _, tc := range []struct{ pid, slot int }{
		{1, 0}, {35, 35}, {36, 1}, {32768, 7}, {4194304, 35},
	} {
		id := genID(tc.pid, tc.slot)
		if len(id) > 6 {
			t.Errorf("genID(%d, %d) = %q: longer than 6", tc.pid, tc.slot, id)
		}
		pid, slot, ok := parseID(id)
		if !ok || pid != tc.pid || slot != tc.slot {
			t.Errorf("parseID(%q) = %d, %d, %v; want %d, %d", id, pid, slot, ok, tc.pid, tc.slot)
		}
	}
}

func TestSweepPattern(t *testing.T) {
	re := sweepPattern("vl")
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"vl-pa81-n1", true},
		{"vl-pa81-n89", true},
		{"vl-pa81-sw", true},
		{"vl-pa81-gw", true},
		{"vl-pa81-client", true},
		{"vl-n1", true}, // fixed name "vl"
		{"vl-pa81-n0", false},
		{"vl-pa81-n100", false},
		{"vl-pa81-etcd", false},
		{"vlx-pa81-n1", false}, // another prefix
		{"xvl-pa81-n1", false},
		{"vl-a-n1", false}, // ids are at least 2 characters
		{"vl-toolongid-n1", false},
		{"vl-PA81-n1", false},
		{"vl-pa81-n1-x", false},
		{"cni-1234", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := re.MatchString(tc.name); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidPrefix(t *testing.T) {
	for _, tc := range []struct {
		p  string
		ok bool
	}{
		{"vl", true}, {"demo", true}, {"e2e", true}, {"a1234567890", false},
		{"", false}, {"1vl", false}, {"v-l", false}, {"VL", false}, {"v.l", false},
	} {
		if err := validPrefix(tc.p); (err == nil) != tc.ok {
			t.Errorf("validPrefix(%q) = %v, want ok=%v", tc.p, err, tc.ok)
		}
	}
}
