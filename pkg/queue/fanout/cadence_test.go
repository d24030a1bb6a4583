package fanout

import (
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

func TestCadenceInterval(t *testing.T) {
	c := Config{}.withDefaults().cadence()
	for _, tc := range []struct {
		pos  int64
		want time.Duration
	}{
		{1, 0},
		{1000, 0},
		{1001, 100200100 * time.Nanosecond},
		{1200, 144 * time.Millisecond},
		{2000, 400 * time.Millisecond},
		{5000, 2500 * time.Millisecond},
		{7000, 4900 * time.Millisecond},
		{8000, 5 * time.Second},
		{80_000, 5 * time.Second},
		{1_000_000, 5 * time.Second},
	} {
		got := c.Interval(tc.pos)
		if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("Interval(%d) = %v, want %v", tc.pos, got, tc.want)
		}
	}
	// Never shorter further back.
	var prev time.Duration
	for p := int64(1); p <= 20_000; p++ {
		d := c.Interval(p)
		if d < prev {
			t.Fatalf("Interval(%d) = %v < Interval(%d) = %v", p, d, p-1, prev)
		}
		prev = d
	}
}

// TestCadenceRealtimeEverywhere: a RealtimePositions above any queue's
// length sends every stream every change, as without a cadence.
func TestCadenceRealtimeEverywhere(t *testing.T) {
	c := Config{RealtimePositions: 1 << 62}.withDefaults().cadence()
	for _, p := range []int64{1, 1e6, 1e12} {
		if d := c.Interval(p); d != 0 {
			t.Errorf("Interval(%d) = %v, want 0", p, d)
		}
	}
}

// TestCadenceMaxBelowCoalesce: a MaxInterval under Coalesce is Coalesce,
// the shortest time between flushes anyway.
func TestCadenceMaxBelowCoalesce(t *testing.T) {
	c := Cadence{Coalesce: time.Second, RealtimePositions: 10, MaxInterval: 100 * time.Millisecond}
	if d := c.Interval(1000); d != time.Second {
		t.Errorf("Interval = %v, want 1s", d)
	}
}

// TestCadenceEarly: a held-back message may go up to the wake-up grid early,
// never more than half its interval.
func TestCadenceEarly(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0:                      0,
		200 * time.Millisecond: 100 * time.Millisecond,
		time.Second:            750 * time.Millisecond,
		5 * time.Second:        4750 * time.Millisecond,
	} {
		if got := early(in); got != want {
			t.Errorf("early(%v) = %v, want %v", in, got, want)
		}
	}
}

// TestPhaseOf: a stream's phase is inside its interval, the same each time
// for a session, and spread evenly over the interval across sessions.
func TestPhaseOf(t *testing.T) {
	const n, buckets = 100_000, 10
	interval := 5 * time.Second
	var counts [buckets]int
	for range n {
		id := queue.NewSessionID("phase")
		d := phaseOf(id, interval)
		if d < 0 || d >= interval {
			t.Fatalf("phaseOf(%q) = %v, outside [0, %v)", id, d, interval)
		}
		if again := phaseOf(id, interval); again != d {
			t.Fatalf("phaseOf(%q) = %v, then %v", id, d, again)
		}
		counts[int(d*buckets/interval)]++
	}
	for b, c := range counts {
		if c < n/buckets*9/10 || c > n/buckets*11/10 {
			t.Errorf("%d of %d phases in tenth %d of the interval, want %d ± 10%%", c, n, b, n/buckets)
		}
	}
	if d := phaseOf("any", 0); d != 0 {
		t.Errorf("phaseOf with no interval = %v, want 0", d)
	}
}
