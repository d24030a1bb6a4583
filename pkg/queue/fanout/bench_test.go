package fanout_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
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
