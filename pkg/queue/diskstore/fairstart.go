package diskstore

import (
	"context"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// PlacePreQueue implements queue.Store: the memory store's placement, logged
// as one record, so a crash leaves the pre-queue either unplaced or placed.
func (s *Store) PlacePreQueue(ctx context.Context, eventID string, now time.Time) (fs queue.FairStart, placed bool, err error) {
	cerr := s.call(ctx, eventID, func(m *memstore.Store) *op {
		fs, placed, err = m.PlacePreQueue(ctx, eventID, now)
		if !placed {
			return nil
		}
		return &op{kind: opPlace, id: eventID, now: now}
	})
	if cerr != nil {
		return queue.FairStart{}, false, cerr
	}
	return fs, placed, err
}

// PreQueue implements queue.Store.
func (s *Store) PreQueue(ctx context.Context, eventID string) (ids []string, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		ids, err = m.PreQueue(ctx, eventID)
		return nil
	})
	if cerr != nil {
		return nil, cerr
	}
	return ids, err
}
