package redisstore_test

import (
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
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
		ev := thousandWaiting(b, st, "delete", now)
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
