package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// OutboxGroup is the consumer group relays read an event's outbox stream with.
const OutboxGroup = "relay"

// ClaimOutbox implements queue.Outbox: XAUTOCLAIM takes over entries another
// consumer has held for more than minIdle, then XREADGROUP hands out entries
// never delivered. The group is created on first use. Without WithOutbox
// nothing is ever recorded, so it returns nothing.
func (s *Store) ClaimOutbox(ctx context.Context, eventID, consumer string, n int, minIdle time.Duration) ([]queue.OutboxEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.claim(cctx, eventID, consumer, n, minIdle)
	if isNoGroup(err) {
		if err = s.createGroup(cctx, eventID); err == nil {
			out, err = s.claim(cctx, eventID, consumer, n, minIdle)
		}
	}
	if err != nil {
		if _, ok := err.(*decodeError); ok {
			return nil, err
		}
		return nil, failed(ctx, err)
	}
	return out, nil
}

func (s *Store) claim(ctx context.Context, eventID, consumer string, n int, minIdle time.Duration) ([]queue.OutboxEntry, error) {
	key := prefix(eventID) + "outbox"
	c := s.client
	// XAUTOCLAIM's reply: next cursor, claimed entries, ids deleted meanwhile.
	r, err := c.Do(ctx, c.B().Xautoclaim().Key(key).Group(OutboxGroup).Consumer(consumer).
		MinIdleTime(strconv.FormatInt(minIdle.Milliseconds(), 10)).Start("0-0").Count(int64(n)).Build()).ToArray()
	if err != nil {
		return nil, err
	}
	var entries []rueidis.XRangeEntry
	if len(r) >= 2 {
		if entries, err = r[1].AsXRange(); err != nil {
			return nil, err
		}
	}
	if left := n - len(entries); left > 0 {
		streams, err := c.Do(ctx, c.B().Xreadgroup().Group(OutboxGroup, consumer).Count(int64(left)).
			Streams().Key(key).Id(">").Build()).AsXRead()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, err
		}
		entries = append(entries, streams[key]...)
	}
	out := make([]queue.OutboxEntry, 0, len(entries))
	for _, e := range entries {
		ch, err := decodeChange(e.FieldValues["change"])
		if err != nil {
			return nil, &decodeError{fmt.Errorf("redisstore: outbox entry %s: %w", e.ID, err)}
		}
		out = append(out, queue.OutboxEntry{ID: e.ID, Change: ch})
	}
	// Taken-over entries are older than new ones, but say so explicitly.
	slices.SortFunc(out, func(a, b queue.OutboxEntry) int {
		switch {
		case a.Change.Seq < b.Change.Seq:
			return -1
		case a.Change.Seq > b.Change.Seq:
			return 1
		}
		return 0
	})
	return out, nil
}

// decodeError marks an outbox entry that cannot be decoded: a bug, not an
// outage.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

func (s *Store) createGroup(ctx context.Context, eventID string) error {
	c := s.client
	// From the stream's start, so entries recorded before any relay ran are
	// relayed too.
	err := c.Do(ctx, c.B().XgroupCreate().Key(prefix(eventID)+"outbox").Group(OutboxGroup).Id("0").Mkstream().Build()).Error()
	if re, ok := err.(*rueidis.RedisError); ok && re.IsBusyGroup() {
		return nil
	}
	return err
}

func isNoGroup(err error) bool {
	re, ok := err.(*rueidis.RedisError)
	return ok && strings.HasPrefix(re.Error(), "NOGROUP")
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
	if err := ackScript.Exec(cctx, s.client, []string{prefix(eventID) + "outbox"}, args).Error(); err != nil {
		return failed(ctx, err)
	}
	return nil
}

// OutboxLen implements queue.Outbox.
func (s *Store) OutboxLen(ctx context.Context, eventID string) (int64, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	n, err := s.client.Do(cctx, s.client.B().Xlen().Key(prefix(eventID)+"outbox").Build()).AsInt64()
	if err != nil {
		return 0, failed(ctx, err)
	}
	return n, nil
}
