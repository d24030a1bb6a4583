package diskstore

import (
	"context"
	"errors"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// admin is the workload's operator: it replaces an event (with or without
// an admission rate), changes some of its fields, or deletes it.
func (w *workload) admin(ctx context.Context, s *Store, ev string) error {
	var err error
	switch w.rng.IntN(4) {
	case 0, 1:
		_, err = s.PutEvent(ctx, queue.Event{ID: ev, State: queue.EventState(1 + w.rng.IntN(3)), MaxConcurrent: int64(1 + w.rng.IntN(4)),
			CheckoutWindow: time.Minute, CheckoutURL: "/c", AdmissionRate: float64(w.rng.IntN(3)) / 100, Lanes: w.lanes(ev)})
	case 2:
		_, err = s.UpdateEvent(ctx, queue.EventUpdate{
			Event: queue.Event{ID: ev, State: queue.EventState(1 + w.rng.IntN(3)), MaxConcurrent: int64(1 + w.rng.IntN(4)), AdmissionRate: 0.02,
				Lanes: w.lanes(ev)},
			Fields: queue.EventFields(1 + w.rng.IntN(int(queue.AllEventFields))),
		})
	default:
		_, _, err = s.DeleteEvent(ctx, ev, w.now, w.rng.IntN(2) == 0, 1+w.rng.IntN(3))
	}
	if errors.Is(err, queue.ErrEventNotFound) || errors.Is(err, queue.ErrEventLive) || errors.Is(err, queue.ErrLanesInUse) {
		return nil
	}
	return err
}

// lanes are ev2's lanes, reweighted now and then (which restarts the
// round-robin); the other events have none.
func (w *workload) lanes(ev string) []lanes.Lane {
	if ev != "ev2" {
		return nil
	}
	return []lanes.Lane{{Name: "vip", Weight: int64(2 + w.rng.IntN(2))}, {Name: "general", Weight: 1}}
}
