package redisstore_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// Run with: go test -run '^$' -bench AdmitPresent -benchtime 20x ./pkg/queue/redisstore/

var benchRule = queue.PresenceRule{Grace: time.Millisecond, Hold: 15 * time.Minute}

// joinMany joins n sessions to ev at now, eight at a time, and returns them.
func joinMany(b *testing.B, st *redisstore.Store, ev string, n int, now time.Time) []queue.Session {
	b.Helper()
	out := make([]queue.Session, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for u := w; u < n; u += 8 {
				s, _, _, err := st.Join(b.Context(), joinParams(ev, strconv.Itoa(u), now))
				if err != nil {
					b.Error(err)
					return
				}
				out[u] = s
			}
		})
	}
	wg.Wait()
	return out
}

// BenchmarkAdmitPresent measures presence-aware admission on Redis.
// pass1000absent: one call walks past 1,000 absent heads (the most a call
// with limit 1,000 passes over) and holds them. behind10000held: with 10,000
// held places at the head, a call admits the 10 present sessions behind
// them; the cursor means the held places are not walked again.
func BenchmarkAdmitPresent(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	now := time.Now()
	later := now.Add(time.Minute)
	b.Run("pass1000absent", func(b *testing.B) {
		var redis time.Duration
		var cmds int64
		for b.Loop() {
			b.StopTimer()
			ev := benchEvent("absent")
			if _, err := st.PutEvent(b.Context(), queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 10, CheckoutWindow: time.Minute}); err != nil {
				b.Fatal(err)
			}
			joinMany(b, st, ev, 1000, now)
			before, stats := serverCPU(srv), srv.CommandStats()
			b.StartTimer()
			got, err := st.AdmitPresent(b.Context(), ev, later, 1000, benchRule)
			b.StopTimer()
			redis += serverCPU(srv) - before
			cmds += commands(stats, srv.CommandStats())
			if err != nil || len(got) != 0 {
				b.Fatalf("admitted %d: %v", len(got), err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(redis)/float64(b.N), "redis-cpu-ns/op")
		b.ReportMetric(float64(cmds)/float64(b.N), "redis-cmds/op")
	})
	b.Run("behind10000held", func(b *testing.B) {
		ev := benchEvent("held")
		if _, err := st.PutEvent(b.Context(), queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1 << 30, CheckoutWindow: time.Hour}); err != nil {
			b.Fatal(err)
		}
		joinMany(b, st, ev, 10000, now)
		for range 10 {
			if got, err := st.AdmitPresent(b.Context(), ev, later, 1000, benchRule); err != nil || len(got) != 0 {
				b.Fatalf("admitted %d: %v", len(got), err)
			}
		}
		var redis time.Duration
		var cmds int64
		for b.Loop() {
			b.StopTimer()
			ss := make([]queue.Session, 10)
			for i := range ss {
				ss[i], _, _, _ = st.Join(b.Context(), joinParams(ev, "p"+strconv.Itoa(b.N)+"-"+strconv.Itoa(i)+benchEvent(""), later))
			}
			before, stats := serverCPU(srv), srv.CommandStats()
			b.StartTimer()
			got, err := st.AdmitPresent(b.Context(), ev, later, 1000, benchRule)
			b.StopTimer()
			redis += serverCPU(srv) - before
			cmds += commands(stats, srv.CommandStats())
			if err != nil || len(got) != 10 {
				b.Fatalf("admitted %d: %v", len(got), err)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(redis)/float64(b.N), "redis-cpu-ns/op")
		b.ReportMetric(float64(cmds)/float64(b.N), "redis-cmds/op")
	})
}

// BenchmarkMarkPresent measures one replica's refresh of 10,000 streams of
// one event: one script call.
func BenchmarkMarkPresent(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	now := time.Now()
	ev := benchEvent("mark")
	ss := joinMany(b, st, ev, 10000, now)
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	m := startCPU(srv)
	for b.Loop() {
		if err := st.MarkPresent(b.Context(), ev, ids, now.Add(2*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b)
}

// commands is how many commands Redis ran between two INFO commandstats,
// less the INFO itself.
func commands(before, after map[string]int64) int64 {
	var n int64
	for _, v := range redistest.CommandDelta(before, after, "info") {
		n += v
	}
	return n
}
