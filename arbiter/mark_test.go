package arbiter

import "testing"

func TestReleaseMarkRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		token  int64
		target string
		text   string
	}{
		{4711, "", "4711"},
		{4711, "n2", "4711 n2"},
	} {
		if got := releaseMark(tt.token, tt.target); got != tt.text {
			t.Errorf("releaseMark(%d, %q) = %q, want %q", tt.token, tt.target, got, tt.text)
		}
		tok, target := parseReleaseMark([]byte(tt.text))
		if tok != tt.token || target != tt.target {
			t.Errorf("parseReleaseMark(%q) = %d, %q; want %d, %q", tt.text, tok, target, tt.token, tt.target)
		}
	}
	if tok, _ := parseReleaseMark([]byte("garbage")); tok != 0 {
		t.Errorf("parseReleaseMark(garbage) = %d, want 0 (not a clean release)", tok)
	}
}
