package main

import "testing"

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "./bin/vipbench"},
		{[]string{"--quick", "--bin", "bin"}, "./bin/vipbench --quick --bin bin"},
		{[]string{"--save-json", "/tmp/x.json", "--reps", "3"}, "./bin/vipbench --reps 3"},
		{[]string{"-save-json=/tmp/x.json", "--quick"}, "./bin/vipbench --quick"},
	} {
		if got := commandLine(tc.args); got != tc.want {
			t.Errorf("commandLine(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
