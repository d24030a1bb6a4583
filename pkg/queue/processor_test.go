package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// TestProcessorAdmitsACrowd: when many slots free at once the processor sends
// its batches together; it still admits exactly the head of the queue up to
// the capacity, in order, and a second pass admits nobody more.
func TestProcessorAdmitsACrowd(t *testing.T) {
	const capacity, queued, batch = 2_345, 3_000, 100
	svc := newService(t, memstore.New(memstore.Config{}), 1, func(c *queue.Config) { c.AdmitBatch = batch })
	ctx := context.Background()
	if _, err := svc.PutEvent(ctx, queue.Event{ID: "crowd", State: queue.EventPaused, MaxConcurrent: capacity}); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, queued)
	for i := range ids {
		v, _, err := svc.Join(ctx, fmt.Sprint("u", i), "crowd")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = v.Session.ID
	}
	if _, err := svc.PutEvent(ctx, queue.Event{ID: "crowd", State: queue.EventActive, MaxConcurrent: capacity}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		v, err := svc.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want, pos := queue.StatusReady, int64(0)
		if i >= capacity {
			want, pos = queue.StatusQueued, int64(i-capacity+1)
		}
		if v.Session.Status != want || v.Position != pos {
			t.Fatalf("session %d after two passes: %v at %d, want %v at %d", i, v.Session.Status, v.Position, want, pos)
		}
	}
	_, stats, err := svc.Event(ctx, "crowd")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Processing != capacity || stats.QueueLength != queued-capacity {
		t.Fatalf("event after admission: %+v, want %d processing and %d queued", stats, capacity, queued-capacity)
	}
}

// slowStore answers every expiry after a round trip, and fails the events
// named in failing.
type slowStore struct {
	queue.Store
	rtt     time.Duration
	failing string
}

func (s *slowStore) Expire(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	time.Sleep(s.rtt)
	if eventID == s.failing {
		return nil, queue.ErrUnavailable
	}
	return s.Store.Expire(ctx, eventID, now, limit)
}

// TestProcessorPassOverManyEvents: a pass works on several events at once,
// so a thousand live events with nothing to admit (one store round trip
// each) do not stretch it a thousandfold; one failing event is reported
// without holding up the others, whose admissions still happen.
func TestProcessorPassOverManyEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const events, rtt = 1000, time.Millisecond
		store := &slowStore{Store: memstore.New(memstore.Config{}), rtt: rtt, failing: "ev-0500"}
		svc := newService(t, store, 1)
		ctx := context.Background()
		var v queue.View
		var err error
		for i := range events {
			id := fmt.Sprintf("ev-%04d", i)
			if _, err := svc.PutEvent(ctx, queue.Event{ID: id, State: queue.EventPaused}); err != nil {
				t.Fatal(err)
			}
			// Someone waits in each: only live events are visited.
			if v, _, err = svc.Join(ctx, "u", id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "ev-0999", State: queue.EventActive, MaxConcurrent: 1}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := svc.ProcessOnce(ctx); !errors.Is(err, queue.ErrUnavailable) {
			t.Fatalf("ProcessOnce = %v, want the failing event's error", err)
		}
		// One at a time it would take events × rtt (1s).
		if took := time.Since(start); took > events*rtt/8 {
			t.Errorf("a pass over %d events took %v at %v per store call", events, took, rtt)
		}
		if s, err := svc.Status(ctx, v.Session.ID); err != nil || s.Session.Status != queue.StatusReady {
			t.Fatalf("the active event's head after the pass: %v, %v", s.Session.Status, err)
		}
	})
}

// newService is a service on store whose events default to maxConcurrent
// slots; tweak, if any, changes the configuration first.
func newService(t testing.TB, store queue.Store, maxConcurrent int64, tweak ...func(*queue.Config)) *queue.Service {
	t.Helper()
	cfg := queue.Config{SessionTTL: time.Hour, DefaultMaxConcurrent: maxConcurrent}
	for _, f := range tweak {
		f(&cfg)
	}
	svc, _ := queuetest.NewService(t, store, cfg, fanout.Config{})
	return svc
}
