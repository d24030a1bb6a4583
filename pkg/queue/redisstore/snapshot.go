package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Snapshot implements queue.Store. It costs O(N) on Redis, which serves
// nothing else while the read-only script runs (BenchmarkSnapshot measures
// it), and ships one integer per waiting session: replicas call it when they
// (re)subscribe and when they find they missed a change, not per request.
func (s *Store) Snapshot(ctx context.Context, eventID string) (queue.Snapshot, error) {
	k := eventKeys(eventID)
	cctx, cancel := context.WithTimeout(ctx, s.snapshotTimeout)
	defer cancel()
	r, err := snapshotScript.Exec(cctx, s.client, k.list, s.args(k, eventID, time.Time{})).AsIntSlice()
	if err != nil {
		return queue.Snapshot{}, failed(ctx, err)
	}
	if len(r) == 0 {
		return queue.Snapshot{}, fmt.Errorf("redisstore: empty snapshot reply")
	}
	snap := queue.Snapshot{Seq: uint64(r[0]), Tickets: make([]uint64, len(r)-1)}
	for i, t := range r[1:] {
		snap.Tickets[i] = uint64(t)
	}
	return snap, nil
}
