package queue_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// TestProcessorAdmitsACrowd: when many slots free at once the processor sends
// its batches together; it still admits exactly the head of the queue up to
// the capacity, in order, and a second pass admits nobody more.
func TestProcessorAdmitsACrowd(t *testing.T) {
	const capacity, queued, batch = 2_345, 3_000, 100
	svc := newService(t, memstore.New(), 1, func(c *queue.Config) { c.AdmitBatch = batch })
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
