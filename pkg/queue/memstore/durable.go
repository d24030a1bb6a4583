package memstore

import (
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// This file is what a durable store built on this one (diskstore) needs
// beyond queue.Store: to see each change inside the call that makes it, to
// know beforehand whether a call will change anything (so that only changes
// are logged), and to switch the outbox as a replayed log says.

// Watch delivers every change of eventID to h as it is made, under the
// store's lock, like Subscribe but without a goroutine: the call that makes
// a change returns after h has seen it. h must not call back into the store.
// stop ends the delivery.
func (s *Store) Watch(eventID string, h queue.ChangeHandler) (stop func()) {
	sub := &subscriber{h: h}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.subs[eventID]
	if m == nil {
		m = map[*subscriber]struct{}{}
		s.subs[eventID] = m
	}
	m[sub] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(m, sub)
		if len(m) == 0 { // m is still s.subs[eventID]: it held sub until now
			delete(s.subs, eventID)
		}
	}
}

// ExpireDue reports whether Expire(eventID, now, n) with n > 0 would change
// anything: end a session, or forget an ended one.
func (s *Store) ExpireDue(eventID string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return false
	}
	at := unixNano(now)
	_, q := e.queuedHeap.due(at)
	_, a := e.admittedHeap.due(at)
	_, p := e.endedHeap.due(at)
	_, held := e.heldDue(at)
	return q || a || p || held
}

// ForgetDue reports whether ForgetIdle(now, …, n) with n > 0 would look at
// any idle event, and so possibly change something.
func (s *Store) ForgetDue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idle) > 0 && s.idle[0].due <= unixNano(now)
}

// SetOutbox turns the recording of changes in the outbox on or off from now
// on; entries already recorded stay until acknowledged.
func (s *Store) SetOutbox(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = on
}

// OutboxOn reports whether the store records changes in its outbox.
func (s *Store) OutboxOn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outbox
}
