package track

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "/bin/check", want: []string{"/bin/check"}},
		{in: "  /bin/check  a\tb  ", want: []string{"/bin/check", "a", "b"}},
		{in: `/bin/check "a b" 'c d'`, want: []string{"/bin/check", "a b", "c d"}},
		{in: `/bin/check x"a b"y`, want: []string{"/bin/check", "xa by"}},
		{in: `/bin/check "it's" 'say "hi"'`, want: []string{"/bin/check", "it's", `say "hi"`}},
		{in: `/bin/check a\ b`, want: []string{"/bin/check", "a b"}},
		{in: `/bin/check 'a\tb'`, want: []string{"/bin/check", "a\tb"}}, // escapes work inside '' too
		{in: `/bin/check \x41\101\cA\E\"`, want: []string{"/bin/check", "AA\x01\x1b\""}},
		{in: `/bin/check ""`, want: []string{"/bin/check", ""}},
		{in: `/bin/check "a`, wantErr: true},
		{in: `/bin/check a\`, wantErr: true},
		{in: "   ", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := SplitCommand(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SplitCommand(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SplitCommand(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	if _, err := SplitCommand(""); !errors.Is(err, ErrEmptyCommand) {
		t.Errorf("SplitCommand(\"\") error = %v, want ErrEmptyCommand", err)
	}
}
