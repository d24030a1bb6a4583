package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"

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
	r, err := snapshotScript.Exec(cctx, s.client, k.list, s.args(k, eventID, time.Time{})).ToArray()
	if err != nil {
		return queue.Snapshot{}, failed(ctx, err)
	}
	return decodeSnapshot(r)
}

// decodeSnapshot reads {seq, n, ticket × n, then with lanes: the lanes, the
// round-robin, and per lane its name, count m and tickets × m}.
func decodeSnapshot(r []rueidis.RedisMessage) (queue.Snapshot, error) {
	bad := fmt.Errorf("redisstore: malformed snapshot reply of %d values", len(r))
	if len(r) < 2 {
		return queue.Snapshot{}, bad
	}
	seq, _ := r[0].AsInt64()
	n, _ := r[1].AsInt64()
	if n < 0 || int64(len(r)) < 2+n {
		return queue.Snapshot{}, bad
	}
	snap := queue.Snapshot{Seq: uint64(seq), Tickets: make([]uint64, n)}
	for i := range snap.Tickets {
		t, _ := r[2+i].AsInt64()
		snap.Tickets[i] = uint64(t)
	}
	rest := r[2+n:]
	if len(rest) < 2 {
		return snap, nil
	}
	lanesRaw, _ := rest[0].ToString()
	rrRaw, _ := rest[1].ToString()
	snap.Lanes = laneState(lanesRaw, rrRaw)
	laneOf := make(map[uint64]string, n)
	for rest = rest[2:]; len(rest) >= 2; {
		name, _ := rest[0].ToString()
		m, _ := rest[1].AsInt64()
		if m < 0 || int64(len(rest)) < 2+m {
			return queue.Snapshot{}, bad
		}
		for _, x := range rest[2 : 2+m] {
			t, _ := x.AsInt64()
			laneOf[uint64(t)] = name
		}
		rest = rest[2+m:]
	}
	if snap.Lanes != nil {
		snap.TicketLanes = make([]string, n)
		for i, t := range snap.Tickets {
			snap.TicketLanes[i] = laneOf[t]
		}
	}
	return snap, nil
}
