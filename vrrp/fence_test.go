package vrrp

import (
	"testing"
	"time"

	"github.com/vipd/vipd/vrrp/vip"
)

// TestFenceLifetime pins the plain-VRRP fence (docs/kernel-fence.md, "The
// rule vipd uses"): the lifetimes are literal so that a change to the
// kernel figures in package vip cannot move them unnoticed.
func TestFenceLifetime(t *testing.T) {
	tests := []struct {
		advInt, want, refresh time.Duration
	}{
		{10 * time.Millisecond, time.Second, 250 * time.Millisecond},
		{500 * time.Millisecond, time.Second, 250 * time.Millisecond},
		{999 * time.Millisecond, time.Second, 250 * time.Millisecond},
		{time.Second, 2 * time.Second, 500 * time.Millisecond},
		{1749 * time.Millisecond, 2 * time.Second, 500 * time.Millisecond},
		{1750 * time.Millisecond, 3 * time.Second, 750 * time.Millisecond},
		{2 * time.Second, 3 * time.Second, 750 * time.Millisecond},
		{3 * time.Second, 5 * time.Second, 1250 * time.Millisecond},
		{255 * time.Second, 509 * time.Second, 127250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.advInt.String(), func(t *testing.T) {
			got := fenceLifetime(tt.advInt)
			if got != tt.want {
				t.Errorf("fenceLifetime(%v) = %v, want %v", tt.advInt, got, tt.want)
			}
			if r := fenceRefreshEvery(got); r != tt.refresh {
				t.Errorf("fenceRefreshEvery(%v) = %v, want %v", got, r, tt.refresh)
			}
		})
	}
}

// TestFenceMarginCoversEarlyExpiry: the engine stops trusting a VIP
// fenceMargin before its lifetime ends, which must be more than the kernel
// may remove it early.
func TestFenceMarginCoversEarlyExpiry(t *testing.T) {
	if fenceMargin <= vip.ExpiryEarliness {
		t.Errorf("fenceMargin %v does not exceed vip.ExpiryEarliness %v", fenceMargin, vip.ExpiryEarliness)
	}
}
