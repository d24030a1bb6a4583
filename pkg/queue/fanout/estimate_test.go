package fanout

import (
	"testing"
	"time"
)

func TestAdmissionRate(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := admissionRate{since: t0}
	if got := waitAt(5, r.perSecond(t0.Add(time.Second))); got != 0 {
		t.Fatalf("no admissions seen yet: wait %v, want 0 (unknown)", got)
	}
	// 10 admitted 2s after watching began: 5/s, so position 20 waits 4s.
	r.add(t0.Add(2*time.Second), 10)
	if got := waitAt(20, r.perSecond(t0.Add(2*time.Second))); got != 4*time.Second {
		t.Fatalf("wait %v, want 4s", got)
	}
	// Over a minute later the old sample has left the window.
	r.add(t0.Add(90*time.Second), 30)
	if got := r.perSecond(t0.Add(90 * time.Second)); got != 0.5 {
		t.Fatalf("rate %v, want 30 per minute = 0.5/s", got)
	}
	if got := waitAt(1, 0.5); got != 2*time.Second {
		t.Fatalf("wait %v, want 2s", got)
	}
	if got := waitAt(0, 5); got != 0 {
		t.Fatalf("position 0 waits %v", got)
	}
}
