package fanout_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// fairStreams opens streams on n pre-queue sessions of an event whose sale
// starts at start, and returns their ids and the streams' newest states.
func fairStreams(t *testing.T, ctx context.Context, svc *queue.Service, n int, start time.Time) ([]string, *follow) {
	t.Helper()
	if _, err := svc.PutEvent(ctx, queue.Event{ID: "fair", MaxConcurrent: 1, FairStart: queue.FairStart{SaleStartsAt: start}}); err != nil {
		t.Fatal(err)
	}
	ids := joinN(t, ctx, svc, "fair", n)
	f := newFollow()
	for _, id := range ids {
		f.watch(t, ctx, svc, id)
	}
	time.Sleep(50 * time.Millisecond)
	synctest.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		v := f.latest[id]
		if v.Position != int64(n) || v.QueueLength != int64(n) || v.FairStart == nil || v.FairStart.Seed != "" || v.FairStart.SeedCommitment == "" {
			t.Fatalf("%s before the start: %d of %d, fair start %+v; want %d of %d with a commitment", id, v.Position, v.QueueLength, v.FairStart, n, n)
		}
	}
	return ids, f
}

// checkPlaced: every stream shows the seed's order (the first admitted).
func checkPlaced(t *testing.T, ctx context.Context, svc *queue.Service, ids []string, f *follow) {
	t.Helper()
	fs, order, err := svc.PreQueue(ctx, "fair")
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, id := range order {
		v := f.latest[id]
		want, pos := queue.StatusQueued, int64(i)
		if i == 0 {
			want, pos = queue.StatusReady, 0
		}
		if v.Session.Status != want || v.Position != pos || v.FairStart == nil || v.FairStart.Seed != fs.Seed {
			t.Errorf("placed %d (%s) shows %v at %d, fair start %+v; want %v at %d with the seed", i, id, v.Session.Status, v.Position, v.FairStart, want, pos)
		}
	}
}

// TestPlacementReadsNoSessionPerStream: a placement moves every pre-queue
// stream to its place with two reads per process (the event and the
// order), not one per stream: a pre-queue of 100,000 would otherwise cost
// each replica that many reads at the start.
func TestPlacementReadsNoSessionPerStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 60
		store := &countingStore{Store: memstore.New(memstore.Config{})}
		now := time.Now()
		start := now.Add(time.Hour)
		clock := func(c *queue.Config) {
			c.Now = func() time.Time { return now }
			c.PresenceGrace = -1 // the clock jumps past presence: placement is what is tested
		}
		svc, _ := newService(t, store, 1, clock)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids, f := fairStreams(t, ctx, svc, n, start)
		before := store.sessionReads.Load()
		now = start
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		checkPlaced(t, ctx, svc, ids, f)
		if reads := store.sessionReads.Load() - before; reads > 1 {
			t.Errorf("placing %d streams read sessions %d times; want none per stream", n, reads)
		}
	})
}

// TestPlacementLostOnTheFeed: a feed that loses the placement (and more)
// still brings every stream to its place, by resynchronising and re-reading.
func TestPlacementLostOnTheFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &feedStore{Store: memstore.New(memstore.Config{}), rng: rand.New(rand.NewPCG(7, 7))}
		now := time.Now()
		start := now.Add(time.Hour)
		svc, _ := newService(t, store, 1, func(c *queue.Config) {
			c.Now = func() time.Time { return now }
			c.PresenceGrace = -1 // the clock jumps past presence: placement is what is tested
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids, f := fairStreams(t, ctx, svc, 30, start)
		store.set("drop")
		now = start
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		store.set("")
		if _, _, err := svc.Join(ctx, "late", "fair"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // a few resync periods
		synctest.Wait()
		checkPlaced(t, ctx, svc, ids, f)
	})
}

// TestMovedStartReachesStreams: moving a fair start (no session changes, so
// nothing on the feed) reaches the pre-queue's streams by the view's next
// check of the event, so a page counts down to the start as it now is.
func TestMovedStartReachesStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		svc, _ := newService(t, store, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now().Add(time.Hour).Truncate(time.Millisecond)
		ids, f := fairStreams(t, ctx, svc, 3, start)
		moved := start.Add(-50 * time.Minute)
		if _, err := svc.UpdateEvent(ctx, queue.EventUpdate{
			Event:  queue.Event{ID: "fair", FairStart: queue.FairStart{SaleStartsAt: moved}},
			Fields: queue.EventFields(queue.FieldSaleStartsAt),
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // a few resync periods
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range ids {
			if fs := f.latest[id].FairStart; fs == nil || !fs.SaleStartsAt.Equal(moved) {
				t.Errorf("%s shows the fair start %+v; want it moved to %v", id, fs, moved)
			}
		}
	})
}
