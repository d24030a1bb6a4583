package diskstore

import (
	"context"
	"errors"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// Each method is the memory store's, run through call: only the calls that
// change something return a record to log.

// Join implements queue.Store.
func (s *Store) Join(ctx context.Context, p queue.JoinParams) (sess queue.Session, pl queue.Place, created bool, err error) {
	cerr := s.call(ctx, p.EventID, func(m *memstore.Store) *op {
		_, _, known := m.Event(ctx, p.EventID)
		sess, pl, created, err = m.Join(ctx, p)
		_, _, nowKnown := m.Event(ctx, p.EventID)
		// A join also registers an unknown event, even one it then refuses.
		if created || (known != nil && nowKnown == nil) {
			if p.Lane != "" {
				return &op{kind: opJoinLane, join: p}
			}
			return &op{kind: opJoin, join: p}
		}
		return nil
	})
	if cerr != nil {
		return queue.Session{}, queue.Place{}, false, cerr
	}
	return sess, pl, created, err
}

// Session implements queue.Store.
func (s *Store) Session(ctx context.Context, id string) (sess queue.Session, pl queue.Place, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		sess, pl, err = m.Session(ctx, id)
		return nil
	})
	if cerr != nil {
		return queue.Session{}, queue.Place{}, cerr
	}
	return sess, pl, err
}

// Leave implements queue.Store.
func (s *Store) Leave(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	return s.finish(ctx, opLeave, id, now)
}

// Complete implements queue.Store.
func (s *Store) Complete(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	return s.finish(ctx, opComplete, id, now)
}

func (s *Store) finish(ctx context.Context, kind opKind, id string, now time.Time) (sess queue.Session, err error) {
	cerr := s.call(ctx, queue.EventOfSession(id), func(m *memstore.Store) *op {
		if kind == opLeave {
			sess, err = m.Leave(ctx, id, now)
		} else {
			sess, err = m.Complete(ctx, id, now)
		}
		if err != nil {
			return nil
		}
		return &op{kind: kind, id: id, now: now}
	})
	if cerr != nil {
		return queue.Session{}, cerr
	}
	return sess, err
}

// Admit implements queue.Store.
func (s *Store) Admit(ctx context.Context, eventID string, now time.Time, limit int) (out []queue.Session, err error) {
	cerr := s.call(ctx, eventID, func(m *memstore.Store) *op {
		out, err = m.Admit(ctx, eventID, now, limit)
		if len(out) == 0 {
			return nil
		}
		return &op{kind: opAdmit, id: eventID, now: now, limit: limit}
	})
	if cerr != nil {
		return nil, cerr
	}
	return out, err
}

// Expire implements queue.Store.
func (s *Store) Expire(ctx context.Context, eventID string, now time.Time, limit int) (out []queue.Session, err error) {
	cerr := s.call(ctx, eventID, func(m *memstore.Store) *op {
		due := limit > 0 && m.ExpireDue(eventID, now)
		var rs []memstore.Respite
		out, rs, err = m.ExpireOutcome(ctx, eventID, now, limit)
		if !due {
			return nil
		}
		if len(rs) > 0 {
			return &op{kind: opExpireRespite, id: eventID, now: now, limit: limit, rs: rs}
		}
		return &op{kind: opExpire, id: eventID, now: now, limit: limit}
	})
	if cerr != nil {
		return nil, cerr
	}
	return out, err
}

// PutEvent implements queue.Store.
func (s *Store) PutEvent(ctx context.Context, e queue.Event) (out queue.Event, err error) {
	cerr := s.call(ctx, e.ID, func(m *memstore.Store) *op {
		out, err = m.PutEvent(ctx, e)
		if err != nil {
			return nil
		}
		return &op{kind: opPutEvent, event: e}
	})
	if cerr != nil {
		return queue.Event{}, cerr
	}
	return out, err
}

// Event implements queue.Store.
func (s *Store) Event(ctx context.Context, id string) (e queue.Event, st queue.EventStats, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		e, st, err = m.Event(ctx, id)
		return nil
	})
	if cerr != nil {
		return queue.Event{}, queue.EventStats{}, cerr
	}
	return e, st, err
}

// Events implements queue.Store.
func (s *Store) Events(ctx context.Context) (es []queue.Event, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		es, err = m.Events(ctx)
		return nil
	})
	return es, errors.Join(cerr, err)
}

// LiveEvents implements queue.Store.
func (s *Store) LiveEvents(ctx context.Context) (es []queue.Event, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		es, err = m.LiveEvents(ctx)
		return nil
	})
	return es, errors.Join(cerr, err)
}

// ForgetIdle implements queue.Store.
func (s *Store) ForgetIdle(ctx context.Context, now time.Time, idleFor time.Duration, limit int) (n int, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		due := limit > 0 && m.ForgetDue(now)
		n, err = m.ForgetIdle(ctx, now, idleFor, limit)
		if !due {
			return nil
		}
		if n > 0 {
			s.unwatchForgotten()
		}
		return &op{kind: opForgetIdle, now: now, idleFor: idleFor, limit: limit}
	})
	if cerr != nil {
		return 0, cerr
	}
	return n, err
}

// Snapshot implements queue.Store.
func (s *Store) Snapshot(ctx context.Context, eventID string) (snap queue.Snapshot, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		snap, err = m.Snapshot(ctx, eventID)
		return nil
	})
	if cerr != nil {
		return queue.Snapshot{}, cerr
	}
	return snap, err
}

// Ping implements queue.Store: it fails while the store refuses calls.
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, "", func(*memstore.Store) *op { return nil })
}

// ClaimOutbox implements queue.Outbox. Claims are not logged: after a
// restart every entry is unclaimed, as a dead relay's would be.
func (s *Store) ClaimOutbox(ctx context.Context, eventID, claimant string, n int, minIdle time.Duration) (es []queue.OutboxEntry, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		es, err = m.ClaimOutbox(ctx, eventID, claimant, n, minIdle)
		return nil
	})
	if cerr != nil {
		return nil, cerr
	}
	return es, err
}

// AckOutbox implements queue.Outbox. It does not wait for its record to be
// written: an ack lost in a crash only sends its entries to Kafka again,
// under the same record ids, which consumers de-duplicate.
func (s *Store) AckOutbox(ctx context.Context, eventID string, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refusal(); err != nil {
		return err
	}
	s.opNow = s.cfg.Now()
	held := s.mem.Holds(eventID) // a deleted event's tombstone too
	if err := s.mem.AckOutbox(ctx, eventID, ids); err != nil {
		return err
	}
	if held {
		// Logged even when it acks nothing: it still marks the time the
		// event may have gone idle.
		s.appendLocked(&op{kind: opAck, id: eventID, now: s.opNow, ids: ids})
	}
	return nil
}

// OutboxLen implements queue.Outbox.
func (s *Store) OutboxLen(ctx context.Context, eventID string) (n int64, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		n, err = m.OutboxLen(ctx, eventID)
		return nil
	})
	if cerr != nil {
		return 0, cerr
	}
	return n, err
}

// unwatchForgotten stops watching events the memory store has forgotten,
// so that made-up event ids cost nothing once forgotten; s.mu held.
func (s *Store) unwatchForgotten() {
	for id, stop := range s.watched {
		if _, _, err := s.mem.Event(noCtx, id); errors.Is(err, queue.ErrEventNotFound) {
			stop()
			delete(s.watched, id)
		}
	}
}
