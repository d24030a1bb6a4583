package fanout_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// BenchmarkHubFanout is the in-memory half of a queue change reaching every
// stream: the change arriving from the store, the event's view computing
// every watcher's position, the mailboxes and waking each reader. An op is
// one join seen by all watchers. BenchmarkStreamFanout in pkg/server is the
// same over real HTTP/2; the difference is the network stack's share.
//
//	go test -run '^$' -bench HubFanout -benchtime 20x ./pkg/queue/fanout/
func BenchmarkHubFanout(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run("watchers="+strconv.Itoa(n), func(b *testing.B) { benchHub(b, n) })
	}
}

func benchHub(b *testing.B, n int) {
	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	const event = "bench"
	if _, err := store.PutEvent(ctx, queue.Event{ID: event, State: queue.EventPaused, MaxConcurrent: 1, CheckoutWindow: time.Minute}); err != nil {
		b.Fatal(err)
	}
	hub := fanout.New(store, fanout.Config{Coalesce: time.Microsecond, Resync: time.Hour})
	defer hub.Close()
	join := func(i int, prefix string) string {
		s, _, _, err := store.Join(ctx, queue.JoinParams{
			SessionID: queue.NewSessionID(event), UserID: prefix + strconv.Itoa(i), EventID: event,
			Now: time.Now(), TTL: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
		return s.ID
	}
	var want atomic.Int64
	var reached atomic.Int64
	all := make(chan struct{}, 1)
	want.Store(int64(n))
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = join(i, "s-")
	}
	for _, id := range ids {
		w, err := hub.Watch(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer w.Close()
			for {
				v, err := w.Next(wctx)
				if err != nil {
					return
				}
				if v.QueueLength == want.Load() && reached.Add(1) == int64(n) {
					all <- struct{}{}
				}
			}
		})
	}
	wait := func() {
		select {
		case <-all:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d watchers reached queue length %d", reached.Load(), n, want.Load())
		}
	}
	wait()
	b.ResetTimer()
	for i := range b.N {
		reached.Store(0)
		want.Add(1)
		join(i, "j-")
		wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/watcher")
}

// BenchmarkStoreJoin is the embedded store's Join with the queue already
// holding len sessions: the exact place of a newcomer must not get dearer
// as the queue grows.
//
//	go test -run '^$' -bench StoreJoin ./pkg/queue/fanout/
func BenchmarkStoreJoin(b *testing.B) {
	for _, n := range []int{0, 1000, 100000, 1000000} {
		b.Run("len="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			store := memstore.New(memstore.Config{})
			now := time.Now()
			join := func(user string) {
				_, pl, _, err := store.Join(ctx, queue.JoinParams{
					SessionID: queue.NewSessionID("e"), UserID: user, EventID: "e", Now: now, TTL: time.Hour,
					NewEvent: queue.Event{ID: "e", State: queue.EventPaused, MaxConcurrent: 1, CheckoutWindow: time.Minute},
				})
				if err != nil || pl.Position == 0 {
					b.Fatal(err, pl)
				}
			}
			for i := range n {
				join("p-" + strconv.Itoa(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				join("u-" + strconv.Itoa(i))
			}
		})
	}
}

// BenchmarkHubHeartbeat is the in-memory half of heartbeat rounds on idle
// watchers: the views' periodic pass finding the silent ones, their
// mailboxes and waking each reader to take its heartbeat. An op is one round
// (every watcher takes one heartbeat); cpu-ns/heartbeat is the process's CPU
// time (getrusage) per heartbeat, since a round's wall time is mostly the
// interval itself. The network's share is measured by waitroom-bench -idle
// (BENCHMARKS.md).
//
//	go test -run '^$' -bench HubHeartbeat -benchtime 10x ./pkg/queue/fanout/
func BenchmarkHubHeartbeat(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run("watchers="+strconv.Itoa(n), func(b *testing.B) { benchHeartbeat(b, n) })
	}
}

func benchHeartbeat(b *testing.B, n int) {
	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	const event = "bench"
	if _, err := store.PutEvent(ctx, queue.Event{ID: event, State: queue.EventPaused, MaxConcurrent: 1, CheckoutWindow: time.Minute}); err != nil {
		b.Fatal(err)
	}
	hub := fanout.New(store, fanout.Config{Coalesce: time.Millisecond, Resync: time.Hour, Heartbeat: 50 * time.Millisecond})
	defer hub.Close()
	var firsts, beats atomic.Int64
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i := range n {
		s, _, _, err := store.Join(ctx, queue.JoinParams{
			SessionID: queue.NewSessionID(event), UserID: "s-" + strconv.Itoa(i), EventID: event,
			Now: time.Now(), TTL: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
		w, err := hub.Watch(ctx, s.ID)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer w.Close()
			for {
				v, err := w.Next(wctx)
				if err != nil {
					return
				}
				if v.Heartbeat {
					beats.Add(1)
				} else {
					firsts.Add(1)
				}
			}
		})
	}
	// Polled: a millisecond's sleep costs the process nothing that counts.
	until := func(c *atomic.Int64, want int64) {
		for deadline := time.Now().Add(time.Minute); c.Load() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d first states and %d heartbeats for %d watchers", firsts.Load(), beats.Load(), n)
			}
		}
	}
	until(&firsts, int64(n))
	start := beats.Load()
	cpu0 := cpuTime()
	b.ResetTimer()
	until(&beats, start+int64(b.N*n))
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*n), "cpu-ns/heartbeat")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
