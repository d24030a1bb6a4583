package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// This file holds the admin API's changes (queue.EventAdminStore) and the
// admission-rate bucket.
//
// A deleted event whose outbox still holds unrelayed changes (the
// deletion's own expiries, at least, when the outbox is on) stays as a
// tombstone: its seq and outbox only, unknown to every read, listed live
// until relayed, then forgotten by the next ForgetIdle at once. A join or a
// PutEvent makes it an event again.

// UpdateEvent implements queue.EventAdminStore.
func (s *Store) UpdateEvent(ctx context.Context, u queue.EventUpdate) (queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[u.Event.ID]
	if e == nil || e.deleted {
		return queue.Event{}, queue.ErrEventNotFound
	}
	next := u.Apply(e.cfg, e.lastTicket)
	if err := e.checkLanes(next); err != nil {
		return queue.Event{}, err
	}
	old := e.cfg.Lanes
	e.cfg = next
	e.lanesChanged(old)
	e.auto = false // an operator's event now: never forgotten
	return e.cfg, nil
}

// DeleteEvent implements queue.EventAdminStore. It holds the lock for
// O(limit log n).
func (s *Store) DeleteEvent(ctx context.Context, id string, now time.Time, force bool, limit int) ([]queue.Session, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[id]
	if e == nil || e.deleted {
		return nil, false, queue.ErrEventNotFound
	}
	if e.waiting.Len()+e.processing > 0 && !force {
		return nil, false, queue.ErrEventLive
	}
	e.cfg.State = queue.EventClosed
	at := unixNano(now)
	var out []queue.Session
	var cs []queue.ChangedSession
	for len(out) < max(limit, 1) {
		h, ok := e.nextLive()
		if !ok {
			break
		}
		e.end(h, queue.StatusExpired, now)
		ss := e.session(e.recs.at(h))
		out = append(out, ss)
		cs = append(cs, expiredSession(ss, queue.ExpiredEventDeleted))
	}
	if len(out) > 0 {
		s.announce(e, queue.Change{Kind: queue.ChangeExpired, At: now, Sessions: cs})
	}
	if e.waiting.Len()+e.processing > 0 {
		s.settle(e, at)
		return out, false, nil
	}
	s.remove(e, at)
	return out, true, nil
}

// nextLive is a live session of e: the head of the queue first, then the
// admitted ones.
func (e *event) nextLive() (handle, bool) {
	if t, ok := e.waiting.Min(); ok {
		return e.byTicket[t], true
	}
	if e.admittedHeap.len() > 0 {
		return e.admittedHeap.items[0], true
	}
	return 0, false
}

// remove forgets e, which has no live session: at once without unrelayed
// outbox entries, else it leaves a tombstone holding them.
func (s *Store) remove(e *event, at int64) {
	id := e.cfg.ID
	if len(e.out.byID) == 0 {
		delete(s.live, id)
		s.forget(e)
		return
	}
	t := s.newEvent(queue.Event{ID: id})
	t.seq, t.out, t.idleGen = e.seq, e.out, e.idleGen
	t.deleted, t.auto = true, true
	s.events[id] = t
	delete(s.live, id)
	s.settle(t, at)
}

// revive makes a tombstone an event with settings cfg again.
func (e *event) revive(cfg queue.Event) {
	e.cfg, e.deleted = cfg, false
	e.lanesChanged(nil)
}

// EventsAfter implements queue.EventAdminStore. It walks every event: O(n)
// for a page, without sorting more than the page.
func (s *Store) EventsAfter(ctx context.Context, after string, limit int) ([]queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []queue.Event
	for id, e := range s.events {
		if id <= after || e.deleted {
			continue
		}
		i, _ := slices.BinarySearchFunc(out, id, func(a queue.Event, id string) int { return strings.Compare(a.ID, id) })
		if i >= limit {
			continue
		}
		out = slices.Insert(out, i, e.cfg)
		if len(out) > limit {
			out = out[:limit]
		}
	}
	return out, nil
}

// allowed caps n, the sessions e may admit at now, by its admission rate.
func (e *event) allowed(now time.Time, n int64) int64 {
	return min(n, e.rate.Allowed(e.cfg.AdmissionRate, now))
}

// took takes n admissions at now from e's rate bucket.
func (e *event) took(now time.Time, n int) {
	e.rate = e.rate.Take(e.cfg.AdmissionRate, now, int64(n))
}

// Holds reports whether the store holds anything of eventID: its settings,
// or a deleted event's tombstone (whose outbox acks change state).
func (s *Store) Holds(eventID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events[eventID] != nil
}
