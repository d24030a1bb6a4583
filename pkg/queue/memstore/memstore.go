// Package memstore is the embedded, in-memory queue.Store: the whole waiting
// room in one process, with no Redis. It is the default backend and the
// reference the contract suite in queuetest is checked against first.
//
// One mutex guards all state. Every method holds it for O(log n) work (plus
// the sessions it returns), so even a queue of a million gives exact places
// cheaply: waiting tickets live in a ticketset, and the sessions due to expire
// in heaps ordered by their deadlines.
package memstore

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

var (
	_ queue.Store  = (*Store)(nil)
	_ queue.Outbox = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithOutbox makes the store record every change in an in-memory outbox until
// it is acknowledged (queue.Outbox). Without it ClaimOutbox returns nothing.
func WithOutbox() Option { return func(s *Store) { s.outbox = true } }

// WithClock sets the clock the outbox uses to tell how long an entry has been
// claimed; every other time comes from the caller. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.clock = now } }

// Store is the in-memory queue.Store. The zero value is not usable; call New.
type Store struct {
	outbox bool
	clock  func() time.Time

	mu     sync.Mutex
	events map[string]*event
	// subs is keyed by event id, not held by the event, because a stream may
	// subscribe before anybody has joined (and so before the event exists).
	subs map[string]map[*subscriber]struct{}
}

type subscriber struct{ h queue.ChangeHandler }

// event is one event's whole state.
type event struct {
	cfg        queue.Event
	lastTicket uint64
	seq        uint64
	waiting    *ticketset.Set
	byTicket   map[uint64]*session // the waiting sessions
	processing int64
	sessions   map[string]*session // live and recently ended, by id
	live       map[string]*session // live sessions by user id
	// Each session sits in exactly one of these heaps, by its status:
	// queued ones by ExpiresAt, ready ones by CheckoutDeadline, ended ones
	// by when they may be forgotten.
	queuedHeap   sessionHeap
	admittedHeap sessionHeap
	endedHeap    sessionHeap
	out          outbox
}

type session struct {
	queue.Session
	heapIndex int
	purgeAt   time.Time
}

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		clock:  time.Now,
		events: map[string]*event{},
		subs:   map[string]map[*subscriber]struct{}{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func newEvent(cfg queue.Event) *event {
	return &event{
		cfg:          cfg,
		waiting:      ticketset.New(),
		byTicket:     map[uint64]*session{},
		sessions:     map[string]*session{},
		live:         map[string]*session{},
		queuedHeap:   sessionHeap{key: func(s *session) time.Time { return s.ExpiresAt }},
		admittedHeap: sessionHeap{key: func(s *session) time.Time { return s.CheckoutDeadline }},
		endedHeap:    sessionHeap{key: func(s *session) time.Time { return s.purgeAt }},
		out:          outbox{byID: map[string]*outboxEntry{}},
	}
}

// place is where s stands now; Position is 0 unless s is queued.
func (e *event) place(s *session) queue.Place {
	pl := queue.Place{QueueLength: e.waiting.Len(), Seq: e.seq}
	if s.Status == queue.StatusQueued {
		pl.Position = e.waiting.Rank(s.Ticket) + 1
	}
	return pl
}

// Join implements queue.Store.
func (s *Store) Join(ctx context.Context, p queue.JoinParams) (queue.Session, queue.Place, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[p.EventID]
	if e == nil {
		cfg := p.NewEvent
		cfg.ID = p.EventID
		e = newEvent(cfg)
		s.events[p.EventID] = e
	}
	if cur := e.live[p.UserID]; cur != nil {
		return cur.Session, e.place(cur), false, nil
	}
	if cur := e.sessions[p.SessionID]; cur != nil {
		// A repeated request for a session that has since ended, or an id
		// clash: never let two sessions share an id.
		if cur.UserID == p.UserID {
			return cur.Session, e.place(cur), false, nil
		}
		return queue.Session{}, queue.Place{}, false, &queue.InvalidArgumentError{Field: "session_id", Reason: "already in use"}
	}
	if e.cfg.State == queue.EventClosed {
		return queue.Session{}, queue.Place{}, false, queue.ErrEventClosed
	}
	e.lastTicket++
	ns := &session{Session: queue.Session{
		ID:        p.SessionID,
		UserID:    p.UserID,
		EventID:   p.EventID,
		Ticket:    e.lastTicket,
		Status:    queue.StatusQueued,
		JoinedAt:  p.Now,
		ExpiresAt: p.Now.Add(p.TTL),
	}}
	e.sessions[ns.ID] = ns
	e.live[ns.UserID] = ns
	e.waiting.Insert(ns.Ticket)
	e.byTicket[ns.Ticket] = ns
	e.queuedHeap.add(ns)
	s.announce(e, queue.Change{Kind: queue.ChangeJoined, At: p.Now, Sessions: changed(ns)})
	return ns.Session, e.place(ns), true, nil
}

// Session implements queue.Store.
func (s *Store) Session(ctx context.Context, id string) (queue.Session, queue.Place, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ss := s.lookup(id)
	if ss == nil {
		return queue.Session{}, queue.Place{}, queue.ErrSessionNotFound
	}
	return ss.Session, e.place(ss), nil
}

func (s *Store) lookup(id string) (*event, *session) {
	e := s.events[queue.EventOfSession(id)]
	if e == nil {
		return nil, nil
	}
	ss := e.sessions[id]
	if ss == nil {
		return nil, nil
	}
	return e, ss
}

// Leave implements queue.Store.
func (s *Store) Leave(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ss := s.lookup(id)
	if ss == nil {
		return queue.Session{}, queue.ErrSessionNotFound
	}
	if ss.Status != queue.StatusQueued {
		return ss.Session, &queue.StatusError{Err: queue.ErrNotQueued, Status: ss.Status}
	}
	e.end(ss, queue.StatusLeft, now)
	s.announce(e, queue.Change{Kind: queue.ChangeLeft, At: now, Sessions: changed(ss)})
	return ss.Session, nil
}

// Complete implements queue.Store.
func (s *Store) Complete(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ss := s.lookup(id)
	if ss == nil {
		return queue.Session{}, queue.ErrSessionNotFound
	}
	if ss.Status != queue.StatusReady {
		return ss.Session, &queue.StatusError{Err: queue.ErrNotAdmitted, Status: ss.Status}
	}
	e.end(ss, queue.StatusCompleted, now)
	s.announce(e, queue.Change{Kind: queue.ChangeCompleted, At: now, Sessions: changed(ss)})
	return ss.Session, nil
}

// Admit implements queue.Store.
func (s *Store) Admit(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil || e.cfg.State != queue.EventActive {
		return nil, nil
	}
	n := min(int64(limit), e.cfg.MaxConcurrent-e.processing, e.waiting.Len())
	if n <= 0 {
		return nil, nil
	}
	deadline := now.Add(e.cfg.CheckoutWindow)
	out := make([]queue.Session, 0, n)
	cs := make([]queue.ChangedSession, 0, n)
	for range n {
		head, _ := e.waiting.Min()
		ss := e.byTicket[head]
		e.unqueue(ss)
		ss.Status = queue.StatusReady
		ss.AdmittedAt = now
		ss.CheckoutDeadline = deadline
		e.admittedHeap.add(ss)
		e.processing++
		out = append(out, ss.Session)
		cs = append(cs, changedSession(ss))
	}
	s.announce(e, queue.Change{Kind: queue.ChangeAdmitted, At: now, Sessions: cs, CheckoutDeadline: deadline})
	return out, nil
}

// Expire implements queue.Store. It also forgets sessions that ended more
// than their TTL ago.
func (s *Store) Expire(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil, nil
	}
	e.purge(now)
	var out []queue.Session
	var cs []queue.ChangedSession
	for len(out) < limit {
		// Take whichever deadline passed first, queued or admitted.
		q, a := e.queuedHeap.due(now), e.admittedHeap.due(now)
		ss := q
		if ss == nil || a != nil && a.CheckoutDeadline.Before(q.ExpiresAt) {
			ss = a
		}
		if ss == nil {
			break
		}
		e.end(ss, queue.StatusExpired, now)
		out = append(out, ss.Session)
		cs = append(cs, changedSession(ss))
	}
	if len(out) > 0 {
		s.announce(e, queue.Change{Kind: queue.ChangeExpired, At: now, Sessions: cs})
	}
	return out, nil
}

// unqueue takes a queued session out of the waiting set and its heap.
func (e *event) unqueue(ss *session) {
	e.waiting.Remove(ss.Ticket)
	delete(e.byTicket, ss.Ticket)
	e.queuedHeap.remove(ss)
}

// end moves a live session to an ended status, releasing its place or slot.
func (e *event) end(ss *session, st queue.Status, now time.Time) {
	switch ss.Status {
	case queue.StatusQueued:
		e.unqueue(ss)
	case queue.StatusReady:
		e.admittedHeap.remove(ss)
		e.processing--
	}
	ss.Status = st
	ss.EndedAt = now
	delete(e.live, ss.UserID)
	// Ended sessions stay readable for as long as the session could wait.
	ss.purgeAt = now.Add(ss.ExpiresAt.Sub(ss.JoinedAt))
	e.endedHeap.add(ss)
}

// purge forgets ended sessions whose time to stay readable has passed.
func (e *event) purge(now time.Time) {
	for {
		ss := e.endedHeap.due(now)
		if ss == nil {
			return
		}
		e.endedHeap.remove(ss)
		delete(e.sessions, ss.ID)
	}
}

// announce numbers a change, records it in the outbox and delivers it to the
// event's subscribers, all under the lock so that delivery is in seq order.
func (s *Store) announce(e *event, c queue.Change) {
	e.seq++
	c.EventID = e.cfg.ID
	c.Seq = e.seq
	c.QueueLength = e.waiting.Len()
	if s.outbox {
		e.out.append(c)
	}
	for sub := range s.subs[c.EventID] {
		sub.h.Change(c)
	}
}

func changedSession(ss *session) queue.ChangedSession {
	return queue.ChangedSession{ID: ss.ID, UserID: ss.UserID, Ticket: ss.Ticket, Status: ss.Status}
}

func changed(ss *session) []queue.ChangedSession {
	return []queue.ChangedSession{changedSession(ss)}
}

// PutEvent implements queue.Store.
func (s *Store) PutEvent(ctx context.Context, cfg queue.Event) (queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.events[cfg.ID]; e != nil {
		e.cfg = cfg
	} else {
		s.events[cfg.ID] = newEvent(cfg)
	}
	return cfg, nil
}

// Event implements queue.Store.
func (s *Store) Event(ctx context.Context, id string) (queue.Event, queue.EventStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[id]
	if e == nil {
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
		out = append(out, e.cfg)
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
	return queue.Snapshot{Tickets: t, Seq: e.seq}, nil
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
