package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// TestProcessorsRaceToPlace: two replicas' processors pass at the start at
// once, again and again; the pre-queue is placed exactly once, and admission
// follows the seed's order.
func TestProcessorsRaceToPlace(t *testing.T) {
	store := memstore.New(memstore.Config{})
	var now atomic.Int64
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now.Store(base.UnixNano())
	clock := func(c *queue.Config) {
		c.Now = func() time.Time { return time.Unix(0, now.Load()).UTC() }
		c.PresenceGrace = -1 // the clock jumps past presence: placement is what is tested
	}
	a, b := newService(t, store, 5, clock), newService(t, store, 5, clock)
	ctx := context.Background()
	start := base.Add(time.Hour)
	if _, err := a.PutEvent(ctx, queue.Event{ID: "race", FairStart: queue.FairStart{SaleStartsAt: start}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 40 {
		v, _, err := b.Join(ctx, fmt.Sprint("u", i), "race")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.Session.ID)
	}
	rec := queuetest.Subscribe(t, store, "race")
	now.Store(start.UnixNano())
	for range 5 {
		var wg sync.WaitGroup
		for _, svc := range []*queue.Service{a, b, a, b} {
			wg.Go(func() {
				if err := svc.ProcessOnce(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	placements := 0
	for _, c := range rec.Changes() {
		if c.Kind == queue.ChangePlaced {
			placements++
		}
	}
	if placements != 1 {
		t.Fatalf("%d placements announced, want 1", placements)
	}
	fs, order, err := a.PreQueue(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if want := fs.Order(ids); fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("placed %v, want %v", order, want)
	}
	for i, id := range order {
		v, err := a.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ready := i < 5; (v.Session.Status == queue.StatusReady) != ready || v.FairStart == nil || v.FairStart.Seed != fs.Seed {
			t.Fatalf("placed %d: %v, fair start %+v", i, v.Session.Status, v.FairStart)
		}
	}
}

// TestPutEventFairStartRules: the service's side of the rules: the seed is
// never the caller's, and a placed start cannot move.
func TestPutEventFairStartRules(t *testing.T) {
	store := memstore.New(memstore.Config{})
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := newService(t, store, 1, func(c *queue.Config) {
		c.Now = func() time.Time { return base }
		c.PresenceGrace = -1 // the clock jumps past presence: placement is what is tested
	})
	ctx := context.Background()
	start := base.Add(time.Minute)
	e, err := svc.PutEvent(ctx, queue.Event{ID: "rules", FairStart: queue.FairStart{SaleStartsAt: start.Add(123 * time.Microsecond), Seed: "chosen"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.FairStart.Seed == "chosen" || len(e.FairStart.Seed) != 2*queue.SeedSize || !e.FairStart.SaleStartsAt.Equal(start) {
		t.Fatalf("stored %+v: want a fresh seed and the start to the millisecond", e.FairStart)
	}
	if _, _, err := store.PlacePreQueue(ctx, "rules", start); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutEvent(ctx, queue.Event{ID: "rules", FairStart: queue.FairStart{SaleStartsAt: start.Add(time.Hour)}}); !errors.Is(err, queue.ErrSaleStarted) {
		t.Fatalf("moving a placed start: %v, want ErrSaleStarted", err)
	}
	for _, same := range []time.Time{start, {}} {
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "rules", State: queue.EventPaused, FairStart: queue.FairStart{SaleStartsAt: same}}); err != nil {
			t.Fatalf("pausing with sale_starts_at %v: %v", same, err)
		}
	}
	if _, _, err := svc.PreQueue(ctx, "none"); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("PreQueue of an unknown event: %v", err)
	}
}
