package queue_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// TestAdmissionRateBucket: the bucket's rule, in numbers.
func TestAdmissionRateBucket(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var b queue.RateBucket
	if n := b.Allowed(0, t0); n != math.MaxInt64 {
		t.Fatalf("rate 0 allows %d, want no limit", n)
	}
	if n := b.Allowed(5, t0); n != 5 {
		t.Fatalf("a fresh bucket at 5/s allows %d, want a full second's worth", n)
	}
	if n := b.Allowed(0.2, t0); n != 1 {
		t.Fatalf("a fresh bucket at 0.2/s allows %d, want at least one", n)
	}
	b = b.Take(5, t0, 5)
	for i, want := range []int64{0, 0, 1, 1, 2} { // every 100 ms: half a user
		if n := b.Allowed(5, t0.Add(time.Duration(i)*100*time.Millisecond)); n != want {
			t.Fatalf("after %d ms: %d allowed, want %d", i*100, n, want)
		}
	}
	if n := b.Allowed(5, t0.Add(time.Hour)); n != 5 {
		t.Fatalf("an hour later: %d allowed, want the burst of 5", n)
	}
	// A replica whose clock is behind neither refills nor moves At back.
	b2 := b.Take(5, t0.Add(-time.Second), 0)
	if b2 != b || b.Allowed(5, t0.Add(-time.Second)) != 0 {
		t.Fatalf("a clock behind changed the bucket: %+v", b2)
	}
}

// TestProcessorAdmissionRate: the processor ticking every 100 ms for 20 s
// admits an event limited to 5 users a second, with a capacity of 1,000,
// 100 ± 10 times (a full bucket of 5, then half a user a tick).
func TestProcessorAdmissionRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t, memstore.New(memstore.Config{}), 1, func(c *queue.Config) { c.ProcessInterval = 100 * time.Millisecond })
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "rated", MaxConcurrent: 1000, AdmissionRate: 5}); err != nil {
			t.Fatal(err)
		}
		for i := range 150 {
			if _, _, err := svc.Join(ctx, fmt.Sprint("u", i), "rated"); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error)
		go func() { done <- svc.RunProcessor(ctx) }()
		time.Sleep(20*time.Second + 50*time.Millisecond)
		cancel()
		<-done
		_, st, err := svc.Event(context.Background(), "rated")
		if err != nil {
			t.Fatal(err)
		}
		if st.Processing < 90 || st.Processing > 110 {
			t.Fatalf("5/s over 20 s of 100 ms ticks admitted %d, want 100 ± 10", st.Processing)
		}
	})
}
