package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/waitroom/waitroom/pkg/queue"
)

// This file holds the event-wide side of the store: settings, snapshots and
// the change feed.

// announce numbers a change, counts it in the event's figures, records it
// in the outbox and delivers it to the event's subscribers, all under the
// lock so that delivery is in seq order.
func (s *Store) announce(e *event, c queue.Change) {
	e.seq++
	c.EventID = e.cfg.ID
	c.Seq = e.seq
	c.QueueLength = e.waiting.Len()
	c.Lanes = e.laneState()
	e.tally(c)
	if s.outbox {
		e.out.append(c)
	}
	for sub := range s.subs[c.EventID] {
		sub.h.Change(c)
	}
}

func changedSession(s queue.Session) queue.ChangedSession {
	return queue.ChangedSession{ID: s.ID, UserID: s.UserID, Ticket: s.Ticket, Status: s.Status, Lane: s.Lane}
}

func changed(s queue.Session) []queue.ChangedSession {
	return []queue.ChangedSession{changedSession(s)}
}

// PutEvent implements queue.Store.
func (s *Store) PutEvent(ctx context.Context, cfg queue.Event) (queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[cfg.ID]
	if e != nil {
		if err := e.checkLanes(cfg); err != nil {
			return queue.Event{}, err
		}
		e.deleted = false
		cfg.FairStart = queue.MergeFairStart(e.cfg.FairStart, cfg.FairStart, e.lastTicket)
		old := e.cfg.Lanes
		e.cfg = cfg
		e.lanesChanged(old)
		e.auto = false // an operator's event now: never forgotten
	} else {
		cfg.FairStart = queue.MergeFairStart(queue.FairStart{}, cfg.FairStart, 0)
		s.events[cfg.ID] = s.newEvent(cfg)
	}
	return cfg, nil
}

// Event implements queue.Store.
func (s *Store) Event(ctx context.Context, id string) (queue.Event, queue.EventStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[id]
	if e == nil || e.deleted {
		return queue.Event{}, queue.EventStats{}, queue.ErrEventNotFound
	}
	return e.cfg, queue.EventStats{QueueLength: e.waiting.Len(), Processing: e.processing, Seq: e.seq}, nil
}

// Events implements queue.Store.
func (s *Store) Events(ctx context.Context) ([]queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]queue.Event, 0, len(s.events))
	for _, e := range s.events {
		if !e.deleted {
			out = append(out, e.cfg)
		}
	}
	slices.SortFunc(out, func(a, b queue.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Snapshot implements queue.Store.
func (s *Store) Snapshot(ctx context.Context, eventID string) (queue.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return queue.Snapshot{}, nil
	}
	t := make([]uint64, 0, e.waiting.Len())
	e.waiting.Ascend(func(v uint64) bool { t = append(t, v); return true })
	snap := queue.Snapshot{Tickets: t, Seq: e.seq, Lanes: e.laneState()}
	if snap.Lanes != nil {
		snap.TicketLanes = make([]string, len(t))
		for i, v := range t {
			snap.TicketLanes[i] = e.laneName(e.recs.at(e.byTicket[v]))
		}
	}
	return snap, nil
}

// Subscribe implements queue.Store. Changes are delivered synchronously under
// the store's lock, so h must not call back into the store. Subscribed is
// called once, before any change, and every later change is delivered: an
// in-memory subscription is never lost. The Change values (and their
// Sessions) are shared by all subscribers: read them, do not modify them.
func (s *Store) Subscribe(ctx context.Context, eventID string, h queue.ChangeHandler) error {
	sub := &subscriber{h: h}
	s.mu.Lock()
	m := s.subs[eventID]
	if m == nil {
		m = map[*subscriber]struct{}{}
		s.subs[eventID] = m
	}
	m[sub] = struct{}{}
	// Under the lock, so no change can reach h before Subscribed does.
	h.Subscribed()
	s.mu.Unlock()

	<-ctx.Done()

	s.mu.Lock()
	delete(m, sub)
	if len(m) == 0 {
		delete(s.subs, eventID)
	}
	s.mu.Unlock()
	return ctx.Err()
}

// Ping implements queue.Store; memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return nil }
