package main

import (
	"net/netip"
	"testing"
)

func TestIsLocal(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"192.0.2.77", false}, // TEST-NET-1: never assigned here
		{"127.0.0.1", true},   // answered from the cached view
	} {
		if got := isLocal(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("isLocal(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
