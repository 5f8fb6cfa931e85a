package clock

import (
	"testing"
	"time"
)

func TestSystemNow(t *testing.T) {
	before := time.Now()
	got := System{}.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Fatalf("Now() = %v, not between %v and the call's end", got, before)
	}
}

func TestSystemTimerFires(t *testing.T) {
	start := time.Now()
	tm := System{}.NewTimer(10 * time.Millisecond)
	select {
	case at := <-tm.C():
		if at.Sub(start) < 10*time.Millisecond {
			t.Fatalf("fired after %v, before 10ms", at.Sub(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timer did not fire")
	}
	if tm.Stop() {
		t.Error("Stop after firing = true, want false")
	}
}

func TestSystemTimerStop(t *testing.T) {
	tm := System{}.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer = false, want true")
	}
	select {
	case <-tm.C():
		t.Fatal("a stopped timer fired")
	case <-time.After(20 * time.Millisecond):
	}
}
