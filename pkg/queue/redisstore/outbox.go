package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// OutboxGroup is the consumer group relays read an event's outbox stream with.
const OutboxGroup = "relay"

// outboxField is the field of an outbox entry that holds the change, as
// published (see message).
const outboxField = "change"

// ClaimOutbox implements queue.Outbox with one script (lua/claim.lua) over
// the event's outbox stream and its consumer group: XPENDING tells whether
// another relay holds the outbox, XCLAIM renews this claimant's entries (the claimant is the group's Redis consumer),
// XAUTOCLAIM takes over a dead relay's, XREADGROUP hands out new ones. The
// group is created on first use. Without WithOutbox nothing is ever
// recorded, so it returns nothing.
func (s *Store) ClaimOutbox(ctx context.Context, eventID, claimant string, n int, minIdle time.Duration) ([]queue.OutboxEntry, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	args := []string{OutboxGroup, claimant, strconv.Itoa(max(n, 0)), strconv.FormatInt(minIdle.Milliseconds(), 10)}
	r, err := claimScript.Exec(cctx, s.client, []string{prefix(eventID) + outboxKey}, args).ToArray()
	if err != nil {
		return nil, failed(ctx, err)
	}
	var out []queue.OutboxEntry
	for _, part := range r {
		entries, err := part.AsXRange()
		if err != nil {
			return nil, failed(ctx, err)
		}
		for _, e := range entries {
			ch, err := decodeChange(e.FieldValues[outboxField])
			if err != nil {
				err = fmt.Errorf("redisstore: outbox entry %s: %w", e.ID, err)
			}
			out = append(out, queue.OutboxEntry{ID: e.ID, Change: ch, Err: err})
		}
	}
	slices.SortFunc(out, func(a, b queue.OutboxEntry) int { return cmp.Compare(a.Change.Seq, b.Change.Seq) })
	return out, nil
}

// AckOutbox implements queue.Outbox: XACK and XDEL in one script, so relayed
// entries leave the stream. Unknown ids are ignored, so acks may be retried.
func (s *Store) AckOutbox(ctx context.Context, eventID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	args := append([]string{OutboxGroup}, ids...)
	if err := ackScript.Exec(cctx, s.client, []string{prefix(eventID) + outboxKey}, args).Error(); err != nil {
		return failed(ctx, err)
	}
	return nil
}

// OutboxLen implements queue.Outbox.
func (s *Store) OutboxLen(ctx context.Context, eventID string) (int64, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	n, err := s.client.Do(cctx, s.client.B().Xlen().Key(prefix(eventID)+outboxKey).Build()).AsInt64()
	if err != nil {
		return 0, failed(ctx, err)
	}
	return n, nil
}
