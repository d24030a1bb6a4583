package redisstore_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// Run with: go test -run '^$' -bench . -benchtime 2s ./pkg/queue/redisstore/
// (BenchmarkAdmit1000 prepares 1,000 joins per op: add -benchtime 30x for it.)

var benchEvents atomic.Int64

func benchEvent(name string) string {
	return fmt.Sprintf("bench-%s-%d-%d", name, time.Now().UnixNano(), benchEvents.Add(1))
}

// cpuMeter reports CPU time per op of this process (the client) and of the
// redis-server, besides wall time.
type cpuMeter struct {
	srv          *redistest.Server
	self, server time.Duration
}

func startCPU(srv *redistest.Server) *cpuMeter {
	return &cpuMeter{srv: srv, self: selfCPU(), server: serverCPU(srv)}
}

func (m *cpuMeter) report(b *testing.B) {
	n := float64(b.N)
	b.ReportMetric(float64(selfCPU()-m.self)/n, "client-cpu-ns/op")
	b.ReportMetric(float64(serverCPU(m.srv)-m.server)/n, "redis-cpu-ns/op")
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func serverCPU(srv *redistest.Server) time.Duration {
	var total float64
	for line := range strings.Lines(srv.Info("INFO", "cpu")) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func BenchmarkJoin(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		ev := benchEvent("join")
		m := startCPU(srv)
		i := 0
		for b.Loop() {
			i++
			if _, _, _, err := st.Join(b.Context(), joinParams(ev, strconv.Itoa(i), now)); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
	})
	b.Run("parallel", func(b *testing.B) { joinParallel(b, srv, st) })
}

func joinParallel(b *testing.B, srv *redistest.Server, st queue.Store) {
	ev := benchEvent("joinp")
	now := time.Now()
	var n atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 cores: a busy server's request handlers
	m := startCPU(srv)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, _, err := st.Join(b.Context(), joinParams(ev, strconv.FormatInt(n.Add(1), 10), now)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	m.report(b)
}

// MaxFlushDelay trades a little latency for fewer writes (and syscalls) per
// command under concurrent load.
func BenchmarkJoinFlushDelay(b *testing.B) {
	srv := redistest.Start(b)
	for _, d := range []time.Duration{0, 20 * time.Microsecond, 100 * time.Microsecond} {
		opt := redisstore.ClientOption([]string{srv.Addr()}, 0)
		opt.MaxFlushDelay = d
		c, err := rueidis.NewClient(opt)
		if err != nil {
			b.Fatal(err)
		}
		st := redisstore.New(c, redisstore.Config{})
		b.Run("serial/delay="+d.String(), func(b *testing.B) {
			ev, now := benchEvent("joinfd"), time.Now()
			m := startCPU(srv)
			i := 0
			for b.Loop() {
				i++
				if _, _, _, err := st.Join(b.Context(), joinParams(ev, strconv.Itoa(i), now)); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b)
		})
		b.Run("parallel/delay="+d.String(), func(b *testing.B) { joinParallel(b, srv, st) })
		c.Close()
	}
}

func BenchmarkSession(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	ev, now := benchEvent("session"), time.Now()
	ids := make([]string, 1000)
	for i := range ids {
		s, _, _, err := st.Join(b.Context(), joinParams(ev, strconv.Itoa(i), now))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	m := startCPU(srv)
	i := 0
	for b.Loop() {
		i++
		if _, _, err := st.Session(b.Context(), ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b)
}

// thousandWaiting makes a new active event with room for 1,000 and 1,000
// sessions queued in it by 8 callers at once; it returns the event's id.
func thousandWaiting(b *testing.B, st *redisstore.Store, prefix string, now time.Time) string {
	b.Helper()
	ev := benchEvent(prefix)
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
	return ev
}

// One Admit call admitting 1,000 sessions: one script, one change.
func BenchmarkAdmit1000(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	now := time.Now()
	var redis time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ev := thousandWaiting(b, st, "admit", now)
		before := serverCPU(srv)
		b.StartTimer()
		got, err := st.Admit(b.Context(), ev, now, 1000)
		b.StopTimer()
		redis += serverCPU(srv) - before
		if err != nil || len(got) != 1000 {
			b.Fatalf("admitted %d: %v", len(got), err)
		}
	}
	b.ReportMetric(float64(redis)/float64(b.N), "redis-cpu-ns/op")
}

// Event settings through rueidis' client-side cache versus from Redis.
func BenchmarkEvent(b *testing.B) {
	srv := redistest.Start(b)
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Minute}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			st := dialWith(b, []string{srv.Addr()}, redisstore.Config{EventCacheTTL: c.ttl})
			ev := benchEvent("event")
			if _, err := st.PutEvent(b.Context(), queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 10, CheckoutWindow: time.Minute}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // past the read-your-write window after PutEvent
			m := startCPU(srv)
			for b.Loop() {
				if _, _, err := st.Event(b.Context(), ev); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b)
		})
	}
}

// Snapshot of queues of growing length: Redis is busy for the whole read.
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			ev := benchEvent("snap")
			fillQueue(b, srv, ev, n)
			m := startCPU(srv)
			for b.Loop() {
				snap, err := st.Snapshot(b.Context(), ev)
				if err != nil || len(snap.Tickets) != n {
					b.Fatalf("snapshot of %d: %v", len(snap.Tickets), err)
				}
			}
			m.report(b)
		})
	}
}

// fillQueue writes n waiting entries straight into the queue's sorted set:
// Snapshot reads nothing else.
func fillQueue(b *testing.B, srv *redistest.Server, ev string, n int) {
	key := "waitroom:{" + ev + "}:queue"
	const batch = 10_000
	for start := 1; start <= n; start += batch {
		args := []string{"ZADD", key}
		for t := start; t < start+batch && t <= n; t++ {
			args = append(args, strconv.Itoa(t), queue.NewSessionID(ev))
		}
		if err := srv.Do(b.Context(), args...).Error(); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { srv.Do(b.Context(), "UNLINK", key) })
}

// BenchmarkPlacement100k: placing a pre-queue of 100,000 (one read of the
// pre-queue, the order in Go, one script). listing-MB is what a change
// listing every placed session would have weighed on pub/sub, which the
// session-less placement change avoids.
//
//	go test ./pkg/queue/redisstore -run X -bench Placement -benchtime 3x
func BenchmarkPlacement100k(b *testing.B) {
	srv := redistest.Start(b)
	st := dial(b, []string{srv.Addr()})
	// The slow log times the placement's commands (a loaded machine puts
	// the odd join in it too): the script, whose 200,000 arguments the log
	// cuts to 32, and the read of the pre-queue. redis-held-s is how long
	// they held Redis, which serves nothing else meanwhile.
	if err := srv.Do(b.Context(), "CONFIG", "SET", "slowlog-log-slower-than", "1000").Error(); err != nil {
		b.Fatal(err)
	}
	if err := srv.Do(b.Context(), "CONFIG", "SET", "slowlog-max-len", "100000").Error(); err != nil {
		b.Fatal(err)
	}
	srv.Do(b.Context(), "SLOWLOG", "RESET")
	queuetest.BenchmarkPlacement(b, st, 100_000)
	entries, err := srv.Do(b.Context(), "SLOWLOG", "GET", "-1").ToArray()
	if err != nil {
		b.Fatal(err)
	}
	var held int64
	for _, e := range entries {
		f, _ := e.ToArray()
		us, _ := f[2].AsInt64()
		cmd, _ := f[3].ToArray()
		name, _ := cmd[0].ToString()
		if name == "ZRANGEBYSCORE" || len(cmd) == 32 {
			held += us
		}
	}
	b.ReportMetric(float64(held)/1e6/float64(b.N), "redis-held-s")
	var listing int
	for i := range 100_000 {
		id := queue.NewSessionID("concert-2026")
		listing += len(fmt.Sprintf(`{"id":%q,"user_id":"user-%d","ticket":%d,"status":"queued"},`, id, i, i+1)) + len(id) + 3
	}
	b.ReportMetric(float64(listing)/1e6, "listing-MB")
}
