package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// A fair start (queue.FairStart) lives in its event's settings hash; the
// placed order in a list of its own.
const (
	fieldFSSale      = "fs_sale_starts_at_ms"
	fieldFSSeed      = "fs_seed"
	fieldFSAfter     = "fs_after"
	fieldFSLast      = "fs_last"
	fieldFSPlacedAt  = "fs_placed_at_ms"
	fieldFSPlacedSeq = "fs_placed_seq"
	fieldFSPlaced    = "fs_placed"
	// preQueueKey lists the placed pre-queue's session ids in queue order.
	preQueueKey = "prequeue"
)

// The replies of lua/place.lua.
const (
	placeDone   = "placed"
	placeNotDue = "not-due"
	placeStale  = "stale"
)

// placeAttempts bounds the retries of a placement whose pre-queue grew
// between the read and the script (a join on a replica whose clock is
// behind): each attempt reads the pre-queue again. Sessions leaving it
// meanwhile need no retry (lua/place.lua).
const placeAttempts = 5

// afterPlacementRead, set by a test, runs between a placement's read of
// the pre-queue and its script.
var afterPlacementRead func()

// fairStartArgs are put_event.lua's sale_starts_at and fresh seed.
func fairStartArgs(f queue.FairStart) []string {
	if !f.On() {
		return []string{"", ""}
	}
	return []string{ms(f.SaleStartsAt), f.Seed}
}

// decodeFairStart reads a fair start from an event's settings hash.
func decodeFairStart(m map[string]string) (queue.FairStart, error) {
	var f queue.FairStart
	if m[fieldFSSale] == "" {
		return f, nil
	}
	var nums [6]int64
	for i, k := range []string{fieldFSSale, fieldFSAfter, fieldFSLast, fieldFSPlacedAt, fieldFSPlacedSeq, fieldFSPlaced} {
		if m[k] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil {
			return f, fmt.Errorf("malformed fair start field %s", k)
		}
		nums[i] = n
	}
	f.SaleStartsAt = fromMS(nums[0])
	f.Seed = m[fieldFSSeed]
	f.After, f.Last = uint64(nums[1]), uint64(nums[2])
	f.PlacedAt, f.PlacedSeq, f.Placed = fromMS(nums[3]), uint64(nums[4]), nums[5]
	return f, nil
}

// placeFairStart reads the fair start a session reply carries (sale, after,
// last, placed; empty strings when unset): enough for PlaceOf.
func placeFairStart(r []rueidis.RedisMessage) queue.FairStart {
	var n [4]int64
	for i := range n {
		s, _ := r[i].ToString()
		n[i], _ = strconv.ParseInt(s, 10, 64)
	}
	return queue.FairStart{SaleStartsAt: fromMS(n[0]), After: uint64(n[1]), Last: uint64(n[2]), PlacedAt: fromMS(n[3])}
}

// storedFairStart is e with the fair start Redis holds for it.
func (s *Store) storedFairStart(ctx context.Context, e queue.Event) (queue.Event, error) {
	r := s.client.Do(ctx, s.client.B().Hgetall().Key(prefix(e.ID)+eventKey).Build())
	if err := r.Error(); err != nil {
		return queue.Event{}, failed(ctx, err)
	}
	stored, _, err := decodeEvent(e.ID, r)
	if err != nil {
		return queue.Event{}, err
	}
	e.FairStart = stored.FairStart
	return e, nil
}

// PlacePreQueue implements queue.Store. HMAC-SHA256 is not in Redis's Lua,
// so the order is computed here from the pre-queue as read, and one script
// checks that the pre-queue has not grown and deals the tickets.
func (s *Store) PlacePreQueue(ctx context.Context, eventID string, now time.Time) (queue.FairStart, bool, error) {
	for range placeAttempts {
		fs, placed, retry, err := s.placeOnce(ctx, eventID, now)
		if !retry {
			return fs, placed, err
		}
	}
	return queue.FairStart{}, false, fmt.Errorf("redisstore: event %s: the pre-queue kept growing during placement; retrying at the next pass", eventID)
}

func (s *Store) placeOnce(ctx context.Context, eventID string, now time.Time) (fs queue.FairStart, placed, retry bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.snapshotTimeout)
	defer cancel()
	p := prefix(eventID)
	r := s.client.Do(cctx, s.client.B().Hgetall().Key(p+eventKey).Build())
	if err := r.Error(); err != nil {
		return fs, false, false, failed(ctx, err)
	}
	e, ok, err := decodeEvent(eventID, r)
	if err != nil || !ok || !e.FairStart.Due(now) {
		return e.FairStart, false, false, err
	}
	fs = e.FairStart
	// The pre-queue's sessions and tickets, ascending.
	pairs, err := s.client.Do(cctx, s.client.B().Zrangebyscore().Key(p+queueKey).
		Min("("+strconv.FormatUint(fs.After, 10)).Max(strconv.FormatUint(fs.Last, 10)).Withscores().Build()).AsZScores()
	if err != nil {
		return fs, false, false, failed(ctx, err)
	}
	ids := make([]string, len(pairs))
	for i, z := range pairs {
		ids[i] = z.Member
	}
	if afterPlacementRead != nil {
		afterPlacementRead()
	}
	k := eventKeys(eventID, preQueueKey)
	args := s.args(k, eventID, now, strconv.FormatUint(fs.Last, 10), strconv.Itoa(len(ids)))
	args = slices.Grow(args, 2*len(ids))
	for i, j := range fs.Permutation(ids) {
		args = append(args, strconv.FormatFloat(pairs[i].Score, 'f', -1, 64), ids[j])
	}
	reply, err := placeScript.Exec(cctx, s.client, k.list, args).ToArray()
	s.wrote(eventID)
	if err != nil {
		return fs, false, false, failed(ctx, err)
	}
	switch replyCode(reply) {
	case placeStale:
		return fs, false, true, nil
	case placeNotDue:
		// Placed by another replica meanwhile (or the start moved).
		e, _, err := s.Event(ctx, eventID)
		return e.FairStart, false, false, err
	case placeDone:
		seq, _ := reply[1].AsInt64()
		n, _ := reply[2].AsInt64()
		fs.PlacedAt, fs.PlacedSeq, fs.Placed = time.UnixMilli(now.UnixMilli()).UTC(), uint64(seq), n
		return fs, true, false, nil
	}
	return fs, false, false, fmt.Errorf("redisstore: place: unexpected reply %v", reply)
}

// PreQueue implements queue.Store.
func (s *Store) PreQueue(ctx context.Context, eventID string) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, s.snapshotTimeout)
	defer cancel()
	p := prefix(eventID)
	rs := s.client.DoMulti(cctx,
		s.client.B().Exists().Key(p+eventKey).Build(),
		s.client.B().Lrange().Key(p+preQueueKey).Start(0).Stop(-1).Build())
	n, err := rs[0].AsInt64()
	if err != nil {
		return nil, failed(ctx, err)
	}
	if n == 0 {
		return nil, queue.ErrEventNotFound
	}
	ids, err := rs[1].AsStrSlice()
	if err != nil {
		return nil, failed(ctx, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}
