package clock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fired reports what ch holds without waiting: After channels are filled
// inside Advance, before it returns.
func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-ch:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestFakeAfter(t *testing.T) {
	c := NewFake(start)
	now := c.After(0)
	one, two := c.After(time.Second), c.After(2*time.Second)
	if got, ok := fired(now); !ok || !got.Equal(start) {
		t.Errorf("After(0) = %v, %v; want %v at once", got, ok, start)
	}
	if n := c.Waiters(); n != 2 {
		t.Errorf("Waiters = %d, want 2 (After(0) is not pending)", n)
	}
	if d, ok := c.Next(); !ok || d != time.Second {
		t.Errorf("Next = %v, %v; want 1s", d, ok)
	}
	c.Advance(999 * time.Millisecond)
	if _, ok := fired(one); ok {
		t.Errorf("1s timer fired at 999ms")
	}
	c.Advance(1500 * time.Millisecond)
	if got, ok := fired(one); !ok || !got.Equal(start.Add(time.Second)) {
		t.Errorf("1s timer: %v, %v; want its due time", got, ok)
	}
	if got, ok := fired(two); !ok || !got.Equal(start.Add(2*time.Second)) {
		t.Errorf("2s timer: %v, %v; want its due time", got, ok)
	}
	if got := c.Now(); !got.Equal(start.Add(2499 * time.Millisecond)) {
		t.Errorf("Now = %v, want the target", got)
	}
	if _, ok := c.Next(); ok || c.Waiters() != 0 {
		t.Errorf("timers left after they fired")
	}
}

// TestFakeAfterFunc checks the order, the time each callback sees, that
// Advance returns after they ran, and that a timer set by a callback fires
// in the same Advance when due.
func TestFakeAfterFunc(t *testing.T) {
	c := NewFake(start)
	var mu sync.Mutex
	var got []string
	rec := func(name string) func() {
		return func() {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, name+" "+c.Now().Sub(start).String())
		}
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(2*time.Second, rec("b1"))
	c.AfterFunc(2*time.Second, rec("b2"))
	c.AfterFunc(time.Second, func() {
		rec("a")()
		c.AfterFunc(1500*time.Millisecond, rec("set by a"))
	})
	c.AfterFunc(10*time.Second, rec("later"))
	c.Advance(5 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"a 1s", "b1 2s", "b2 2s", "set by a 2.5s", "c 3s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("callbacks (-want +got):\n%s", diff)
	}
	if n := c.Waiters(); n != 1 {
		t.Errorf("Waiters = %d, want 1 (later)", n)
	}
}

func TestFakeStop(t *testing.T) {
	c := NewFake(start)
	ran := false
	stop := c.AfterFunc(time.Second, func() { ran = true })
	if !stop() {
		t.Errorf("first stop = false, want true")
	}
	if stop() {
		t.Errorf("second stop = true, want false")
	}
	c.Advance(time.Second)
	if ran {
		t.Errorf("stopped callback ran")
	}
	stop = c.AfterFunc(time.Second, func() {})
	c.Advance(time.Second)
	if stop() {
		t.Errorf("stop after the call = true, want false")
	}
}

func TestFakeAfterFuncDueNow(t *testing.T) {
	c := NewFake(start)
	done := make(chan struct{})
	stop := c.AfterFunc(0, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("AfterFunc(0) did not run without an Advance")
	}
	if stop() {
		t.Errorf("stop of a started call = true")
	}
}

func TestFakeBlockUntil(t *testing.T) {
	c := NewFake(start)
	go func() {
		<-c.After(time.Second)
		c.After(time.Second)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if err := c.BlockUntil(ctx, 1); err != nil { // the second After
		t.Fatal(err)
	}
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if err := c.BlockUntil(short, 2); err != context.Canceled {
		t.Errorf("BlockUntil(2) with a canceled ctx = %v, want context.Canceled", err)
	}
}

func TestFakeSet(t *testing.T) {
	c := NewFake(start)
	ch := c.After(time.Hour)
	c.Set(start.Add(-time.Minute))
	if got := c.Now(); !got.Equal(start.Add(-time.Minute)) {
		t.Errorf("Now after a step back = %v", got)
	}
	if d, _ := c.Next(); d != time.Hour+time.Minute {
		t.Errorf("Next after a step back = %v, want the timer's due time unchanged", d)
	}
	c.Set(start.Add(time.Hour))
	if _, ok := fired(ch); !ok {
		t.Errorf("a step forward did not fire the due timer")
	}
}

func TestReal(t *testing.T) {
	c := Real()
	before := time.Now()
	select {
	case <-c.After(time.Millisecond):
	case <-time.After(10 * time.Second):
		t.Fatal("Real().After did not fire")
	}
	if c.Now().Before(before) {
		t.Errorf("Real().Now went back")
	}
	if stop := c.AfterFunc(time.Hour, func() {}); !stop() {
		t.Errorf("stopping a pending Real().AfterFunc = false")
	}
}
