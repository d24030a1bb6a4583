package redisstore_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
)

// BenchmarkDeleteStep1000: one DeleteEvent step ending 1,000 queued
// sessions, the longest Redis is held by a deletion (QUEUE_ADMIT_BATCH
// sessions a step).
func BenchmarkDeleteStep1000(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	now := time.Now()
	var redis time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ev := benchEvent("delete")
		if _, err := st.PutEvent(b.Context(), queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1000, CheckoutWindow: time.Minute}); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for u := w; u < 1000; u += 8 {
					if _, _, _, err := st.Join(b.Context(), joinParams(ev, strconv.Itoa(u), now)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		before := serverCPU(srv)
		b.StartTimer()
		got, done, err := st.DeleteEvent(b.Context(), ev, now, true, 1000)
		b.StopTimer()
		redis += serverCPU(srv) - before
		if err != nil || len(got) != 1000 || !done {
			b.Fatalf("ended %d, done %v: %v", len(got), done, err)
		}
	}
	b.ReportMetric(float64(redis)/float64(b.N), "redis-cpu-ns/op")
}
