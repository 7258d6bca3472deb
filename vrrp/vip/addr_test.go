package vip

import (
	"testing"
	"time"
)

func TestLifetimeSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want uint32
	}{
		{0, 0},
		{-time.Second, 0},
		{time.Nanosecond, 1},
		{999 * time.Millisecond, 1},
		{time.Second, 1},
		{1001 * time.Millisecond, 2},
		{3 * time.Second, 3},
		{200 * 365 * 24 * time.Hour, infinityLifetime - 1},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := LifetimeSeconds(tt.d); got != tt.want {
				t.Errorf("LifetimeSeconds(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

func TestFenceLifetime(t *testing.T) {
	tests := []struct {
		budget time.Duration
		want   time.Duration
		ok     bool
	}{
		{0, 0, false},
		{ExpiryLateness + 999*time.Millisecond, 0, false},
		{ExpiryLateness + time.Second, time.Second, true},
		{ExpiryLateness + 2999*time.Millisecond, 2 * time.Second, true},
		{10 * time.Second, 8 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.budget.String(), func(t *testing.T) {
			got, ok := FenceLifetime(tt.budget)
			if got != tt.want || ok != tt.ok {
				t.Errorf("FenceLifetime(%v) = %v, %v; want %v, %v", tt.budget, got, ok, tt.want, tt.ok)
			}
			if ok && got+ExpiryLateness > tt.budget {
				t.Errorf("lifetime %v + lateness %v exceeds budget %v", got, ExpiryLateness, tt.budget)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    uint8
		wantErr bool
	}{
		{"", 0, false},
		{"global", 0, false},
		{"site", 200, false},
		{"link", 253, false},
		{"host", 254, false},
		{"nowhere", 255, false},
		{"42", 42, false},
		{"0x10", 16, false},
		{"256", 0, true},
		{"planet", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseScope(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestVMACAddr(t *testing.T) {
	tests := []struct {
		vrid     uint8
		family   int
		wantMAC  string
		wantName string
		wantErr  bool
	}{
		{1, 4, "00:00:5e:00:01:01", "vrrp.1", false},
		{255, 6, "00:00:5e:00:02:ff", "vrrp6.255", false},
		{1, 5, "", "", true},
	}
	for _, tt := range tests {
		mac, err := VMACAddr(tt.vrid, tt.family)
		if (err != nil) != tt.wantErr || mac.String() != tt.wantMAC {
			t.Errorf("VMACAddr(%d, %d) = %v, %v; want %s", tt.vrid, tt.family, mac, err, tt.wantMAC)
		}
		if tt.wantErr {
			continue
		}
		if got := DefaultVMACName(tt.vrid, tt.family); got != tt.wantName {
			t.Errorf("DefaultVMACName(%d, %d) = %q, want %q", tt.vrid, tt.family, got, tt.wantName)
		}
	}
}
