package memstore

import (
	"context"
	"strconv"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// outbox is one event's unacknowledged changes, in seq order.
type outbox struct {
	entries []*outboxEntry // acked entries are dropped from the front lazily
	byID    map[string]*outboxEntry
}

type outboxEntry struct {
	queue.OutboxEntry
	acked     bool
	claimant  string
	claimedAt time.Time
}

func (o *outbox) append(c queue.Change) {
	en := &outboxEntry{OutboxEntry: queue.OutboxEntry{ID: strconv.FormatUint(c.Seq, 10), Change: c}}
	o.entries = append(o.entries, en)
	o.byID[en.ID] = en
}

// compact drops acknowledged entries from the front; the relay acks in
// order, so that is where they gather.
func (o *outbox) compact() {
	i := 0
	for i < len(o.entries) && o.entries[i].acked {
		o.entries[i] = nil
		i++
	}
	o.entries = o.entries[i:]
	if len(o.entries) == 0 {
		o.entries = nil // let the old backing array go
	}
}

// ClaimOutbox implements queue.Outbox, with claims timed by the store's
// clock.
func (s *Store) ClaimOutbox(ctx context.Context, eventID, claimant string, n int, minIdle time.Duration) ([]queue.OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil, nil
	}
	now := s.clock()
	for _, en := range e.out.entries {
		if !en.acked && en.claimant != "" && en.claimant != claimant && now.Sub(en.claimedAt) < minIdle {
			return nil, nil // another claimant has the outbox
		}
	}
	var out []queue.OutboxEntry
	added := 0
	for _, en := range e.out.entries {
		switch {
		case en.acked:
		case en.claimant == claimant: // renewed, and returned again
			en.claimedAt = now
			out = append(out, en.OutboxEntry)
		case added < n: // never claimed, or an idle claim of another claimant
			en.claimant, en.claimedAt = claimant, now
			out = append(out, en.OutboxEntry)
			added++
		}
	}
	return out, nil
}

// AckOutbox implements queue.Outbox. Unknown ids are ignored, so acks may be
// retried.
func (s *Store) AckOutbox(ctx context.Context, eventID string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil
	}
	for _, id := range ids {
		if en := e.out.byID[id]; en != nil {
			en.acked = true
			delete(e.out.byID, id)
		}
	}
	e.out.compact()
	s.settle(e, unixNano(s.clock()))
	return nil
}

// OutboxLen implements queue.Outbox.
func (s *Store) OutboxLen(ctx context.Context, eventID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return 0, nil
	}
	return int64(len(e.out.byID)), nil
}
