// Package memstore is the embedded, in-memory queue.Store: the whole waiting
// room in one process, with no Redis. It is the default backend and the
// reference the contract suite in queuetest is checked against first.
//
// One mutex guards all state. Every method holds it for O(log n) work (plus
// the sessions it returns), so even a queue of a million gives exact places
// cheaply: waiting tickets live in a ticketset, and the sessions due to expire
// in heaps ordered by their deadlines. Sessions are stored without pointers
// (records.go), so a long queue adds nothing to garbage collection.
package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

var (
	_ queue.Store  = (*Store)(nil)
	_ queue.Outbox = (*Store)(nil)
)

// Config configures a Store. The zero value is a store without an outbox.
type Config struct {
	// Outbox makes the store record every change in an in-memory outbox until
	// it is acknowledged (queue.Outbox). Without it ClaimOutbox returns nothing.
	Outbox bool
	// Now is the clock the outbox uses to tell how long an entry has been
	// claimed; every other time comes from the caller. time.Now when nil.
	Now func() time.Time
}

// Store is the in-memory queue.Store. The zero value is not usable; call New.
type Store struct {
	outbox   bool
	clock    func() time.Time
	userHash func(string) uint64

	mu     sync.Mutex
	events map[string]*event
	// live holds the events with live sessions or outbox entries: all that
	// LiveEvents lists (live.go).
	live map[string]*event
	// idle are the idle events to look at again: to forget, or to purge of
	// ended sessions (live.go).
	idle idleQueue
	// lastSeq keeps the last Seq of each forgotten event, so that one joined
	// again numbers its changes after it.
	lastSeq map[string]uint64
	// subs is keyed by event id, not held by the event, because a stream may
	// subscribe before anybody has joined (and so before the event exists).
	subs map[string]map[*subscriber]struct{}
	// reports are the replicas' open streams, by event and replica
	// (stats.go); like subs, not part of any event.
	reports map[string]map[string]queue.StreamReport
}

type subscriber struct{ h queue.ChangeHandler }

// event is one event's whole state.
type event struct {
	cfg        queue.Event
	lastTicket uint64
	seq        uint64
	waiting    *ticketset.Set
	processing int64
	recs       records
	byKey      map[sessionKey]handle // live and recently ended sessions
	byTicket   map[uint64]handle     // the waiting sessions
	live       liveIndex             // live sessions by user id
	// Each session sits in exactly one of these heaps, by its status:
	// queued ones by expiry, ready ones by checkout deadline, ended ones by
	// when they may be forgotten.
	queuedHeap   sessionHeap
	admittedHeap sessionHeap
	endedHeap    sessionHeap
	out          outbox
	// auto says a join registered the event and PutEvent has not written
	// it since: only such an event is forgotten when idle.
	auto bool
	// order is the placed pre-queue's ids in queue order (fairstart.go).
	order []string
	// idleGen counts the event's turns from live to idle; an idle-queue
	// entry of an earlier turn is stale.
	idleGen uint64
	// pres is who is present and who is held (presence.go).
	pres presence
	// rate is the admission-rate bucket (update.go).
	rate queue.RateBucket
	// deleted marks a deleted event's tombstone (update.go).
	deleted bool
	// lanes are the event's priority lanes (lanes.go).
	lanes laneQueues
	// fig is what its live figures are made of (stats.go).
	fig figures
}

// New returns an empty store.
func New(cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{
		outbox:  cfg.Outbox,
		clock:   cfg.Now,
		events:  map[string]*event{},
		live:    map[string]*event{},
		lastSeq: map[string]uint64{},
		subs:    map[string]map[*subscriber]struct{}{},
		reports: map[string]map[string]queue.StreamReport{},
	}
}

func (s *Store) newEvent(cfg queue.Event) *event {
	e := &event{
		cfg:      cfg,
		waiting:  ticketset.New(),
		byKey:    map[sessionKey]handle{},
		byTicket: map[uint64]handle{},
		live:     newLiveIndex(s.userHash),
		out:      outbox{byID: map[string]*outboxEntry{}},
		fig:      newFigures(),
	}
	e.queuedHeap = sessionHeap{recs: &e.recs, key: func(r *rec) int64 { return r.expiresAt }}
	e.admittedHeap = sessionHeap{recs: &e.recs, key: func(r *rec) int64 { return r.deadline }}
	e.endedHeap = sessionHeap{recs: &e.recs, key: func(r *rec) int64 { return r.purgeAt }}
	if seq, ok := s.lastSeq[cfg.ID]; ok {
		e.seq = seq
		delete(s.lastSeq, cfg.ID)
	}
	return e
}

// session returns r as a queue.Session.
func (e *event) session(r *rec) queue.Session {
	return e.sessionAs(r, e.cfg.ID+"~"+string(r.key[:]), r.userID())
}

// sessionAs is session with its id and user id already at hand.
func (e *event) sessionAs(r *rec, id, userID string) queue.Session {
	return queue.Session{
		ID:               id,
		UserID:           userID,
		EventID:          e.cfg.ID,
		Ticket:           r.ticket,
		Status:           r.status,
		JoinedAt:         timeOf(r.joinedAt),
		ExpiresAt:        timeOf(r.expiresAt),
		AdmittedAt:       timeOf(r.admittedAt),
		CheckoutDeadline: timeOf(r.deadline),
		EndedAt:          timeOf(r.endedAt),
		HeldUntil:        timeOf(e.heldUntil(r)),
		Lane:             e.laneName(r),
	}
}

// place is where r stands now; Position is 0 unless r is queued.
func (e *event) place(r *rec) queue.Place {
	pl := queue.Place{QueueLength: e.waiting.Len(), Seq: e.seq}
	switch {
	case r.status != queue.StatusQueued:
	case e.cfg.HasLanes():
		pl.Position = e.lanePosition(r)
	default:
		pl.Position = e.waiting.Rank(r.ticket) + 1
	}
	return e.cfg.FairStart.PlaceOf(r.ticket, r.status == queue.StatusQueued, pl)
}

// Join implements queue.Store.
func (s *Store) Join(ctx context.Context, p queue.JoinParams) (queue.Session, queue.Place, bool, error) {
	if err := p.Check(); err != nil {
		return queue.Session{}, queue.Place{}, false, err
	}
	key, _ := keyOf(p.EventID, p.SessionID) // Check made sure it has one
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[p.EventID]
	if e != nil && e.deleted {
		cfg := p.NewEvent
		cfg.ID = p.EventID
		e.revive(cfg)
	}
	if e == nil {
		cfg := p.NewEvent
		cfg.ID = p.EventID
		e = s.newEvent(cfg)
		e.auto = true
		s.events[p.EventID] = e
		// Settled now, so that it is forgotten in time even if this join
		// is refused; the join that creates a session lists it as live.
		defer s.settle(e, unixNano(p.Now))
	}
	if h, ok := e.live.get(&e.recs, p.UserID); ok {
		r := e.recs.at(h)
		return e.session(r), e.place(r), false, nil
	}
	if h, ok := e.byKey[key]; ok {
		// A repeated request for a session that has since ended, or an id
		// clash: never let two sessions share an id.
		if r := e.recs.at(h); r.hasUser(p.UserID) {
			return e.sessionAs(r, p.SessionID, p.UserID), e.place(r), false, nil
		}
		return queue.Session{}, queue.Place{}, false, &queue.InvalidArgumentError{Field: "session_id", Reason: "already in use"}
	}
	if e.cfg.State == queue.EventClosed {
		return queue.Session{}, queue.Place{}, false, queue.ErrEventClosed
	}
	lane, err := e.cfg.LaneOf(p.Lane)
	if err != nil {
		return queue.Session{}, queue.Place{}, false, err
	}
	e.lastTicket++
	h := e.recs.alloc()
	r := e.recs.at(h)
	*r = rec{
		ticket:     e.lastTicket,
		status:     queue.StatusQueued,
		joinedAt:   unixNano(p.Now),
		expiresAt:  unixNano(p.Now.Add(p.TTL)),
		admittedAt: unset,
		deadline:   unset,
		endedAt:    unset,
		purgeAt:    unset,
		heapIndex:  -1,
		key:        key,
	}
	r.userLen = uint8(copy(r.user[:], p.UserID))
	r.lane = e.laneIndex(lane)
	e.joinPreQueue(r, p)
	e.byKey[key] = h
	e.live.add(p.UserID, h)
	e.waiting.Insert(r.ticket)
	e.enqueueLane(r)
	e.byTicket[r.ticket] = h
	e.queuedHeap.add(h)
	ns := e.sessionAs(r, p.SessionID, p.UserID)
	s.announce(e, queue.Change{Kind: queue.ChangeJoined, At: p.Now, Sessions: changed(ns)})
	s.settle(e, unixNano(p.Now))
	return ns, e.place(r), true, nil
}

// Session implements queue.Store.
func (s *Store) Session(ctx context.Context, id string) (queue.Session, queue.Place, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, h, ok := s.lookup(id)
	if !ok {
		return queue.Session{}, queue.Place{}, queue.ErrSessionNotFound
	}
	r := e.recs.at(h)
	return e.sessionAs(r, id, r.userID()), e.place(r), nil
}

func (s *Store) lookup(id string) (*event, handle, bool) {
	ev := queue.EventOfSession(id)
	e := s.events[ev]
	if e == nil {
		return nil, 0, false
	}
	key, ok := keyOf(ev, id)
	if !ok {
		return nil, 0, false
	}
	h, ok := e.byKey[key]
	return e, h, ok
}

// Leave implements queue.Store.
func (s *Store) Leave(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	return s.finish(id, now, queue.StatusQueued, queue.StatusLeft, queue.ErrNotQueued, queue.ChangeLeft)
}

// Complete implements queue.Store.
func (s *Store) Complete(ctx context.Context, id string, now time.Time) (queue.Session, error) {
	return s.finish(id, now, queue.StatusReady, queue.StatusCompleted, queue.ErrNotAdmitted, queue.ChangeCompleted)
}

// finish ends session id, which must have status from, with status to.
func (s *Store) finish(id string, now time.Time, from, to queue.Status, wrong error, kind queue.ChangeKind) (queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, h, ok := s.lookup(id)
	if !ok {
		return queue.Session{}, queue.ErrSessionNotFound
	}
	r := e.recs.at(h)
	if r.status != from {
		return e.sessionAs(r, id, r.userID()), &queue.StatusError{Err: wrong, Status: r.status}
	}
	if r.status == queue.StatusReady && r.deadline <= unixNano(now) {
		// The checkout window closed at the deadline, not when Expire next
		// runs: refuse as expired and leave the session for Expire to end.
		return e.sessionAs(r, id, r.userID()), &queue.StatusError{Err: wrong, Status: queue.StatusExpired}
	}
	e.end(h, to, now)
	ss := e.sessionAs(r, id, r.userID())
	s.announce(e, queue.Change{Kind: kind, At: now, Sessions: changed(ss)})
	s.settle(e, unixNano(now))
	return ss, nil
}

// Admit implements queue.Store.
func (s *Store) Admit(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, n := s.admittable(eventID, now, limit)
	if n <= 0 {
		return nil, nil
	}
	e.took(now, int(n))
	deadline := now.Add(e.cfg.CheckoutWindow)
	out := make([]queue.Session, 0, n)
	cs := make([]queue.ChangedSession, 0, n)
	for range n {
		head, _ := e.nextHead()
		ss := e.admitOne(e.byTicket[head], now, deadline)
		out = append(out, ss)
		cs = append(cs, changedSession(ss))
	}
	s.announce(e, queue.Change{Kind: queue.ChangeAdmitted, At: now, Sessions: cs, CheckoutDeadline: deadline})
	return out, nil
}

// admittable is the event and how many of its sessions may be admitted
// now, at most limit and at most what its admission rate allows; n <= 0
// admits nobody. Admit and AdmitPresent both ask it, so a rule on who may
// be admitted at all lives here once.
func (s *Store) admittable(eventID string, now time.Time, limit int) (*event, int64) {
	e := s.events[eventID]
	if e == nil || e.cfg.State != queue.EventActive {
		return nil, 0
	}
	if e.cfg.FairStart.Holding() {
		return nil, 0 // an event whose pre-queue is not placed admits nobody
	}
	return e, e.allowed(now, min(int64(limit), e.cfg.MaxConcurrent-e.processing, e.waiting.Len()))
}

// admitOne admits a queued session.
func (e *event) admitOne(h handle, now, deadline time.Time) queue.Session {
	e.unqueue(h)
	r := e.recs.at(h)
	r.status = queue.StatusReady
	r.admittedAt = unixNano(now)
	r.deadline = unixNano(deadline)
	e.admittedHeap.add(h)
	e.processing++
	return e.session(r)
}

// Expire implements queue.Store. It also forgets sessions that ended more
// than their TTL ago.
func (s *Store) Expire(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, error) {
	out, _ := s.expire(eventID, now, limit, livePresence)
	return out, nil
}

// expire is Expire, with spare deciding which held sessions are present
// when their HeldUntil comes (presence.go).
func (s *Store) expire(eventID string, now time.Time, limit int, spare spareFunc) ([]queue.Session, []Respite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil, nil
	}
	at := unixNano(now)
	e.purge(at)
	out, cs, respites := e.expireHeld(now, limit, spare)
	for len(out) < limit {
		// Take whichever deadline passed first, queued or admitted.
		q, qok := e.queuedHeap.due(at)
		a, aok := e.admittedHeap.due(at)
		h, ok := q, qok
		if !ok || aok && e.recs.at(a).deadline < e.recs.at(q).expiresAt {
			h, ok = a, aok
		}
		if !ok {
			break
		}
		reason := expiryReason(e.recs.at(h))
		e.end(h, queue.StatusExpired, now)
		ss := e.session(e.recs.at(h))
		out = append(out, ss)
		cs = append(cs, expiredSession(ss, reason))
	}
	if len(out) > 0 {
		s.announce(e, queue.Change{Kind: queue.ChangeExpired, At: now, Sessions: cs})
		s.settle(e, at)
	}
	return out, respites
}

// unqueue takes a queued session out of the waiting set and its heap.
func (e *event) unqueue(h handle) {
	r := e.recs.at(h)
	e.waiting.Remove(r.ticket)
	e.dequeueLane(r)
	delete(e.byTicket, r.ticket)
	e.queuedHeap.remove(h)
	e.forgetPresence(r)
}

// end moves a live session to an ended status, releasing its place or slot.
func (e *event) end(h handle, st queue.Status, now time.Time) {
	r := e.recs.at(h)
	switch r.status {
	case queue.StatusQueued:
		e.unqueue(h)
	case queue.StatusReady:
		e.admittedHeap.remove(h)
		e.processing--
	}
	r.status = st
	r.endedAt = unixNano(now)
	e.live.remove(&e.recs, r.userID())
	// Ended sessions stay readable for as long as the session could wait.
	r.purgeAt = addNano(r.endedAt, addNano(r.expiresAt, -r.joinedAt))
	e.endedHeap.add(h)
}

// purge forgets ended sessions whose time to stay readable has passed.
func (e *event) purge(now int64) {
	purged := false
	for {
		h, ok := e.endedHeap.due(now)
		if !ok {
			break
		}
		e.endedHeap.remove(h)
		delete(e.byKey, e.recs.at(h).key)
		e.recs.release(h)
		purged = true
	}
	if purged && len(e.byKey) == 0 {
		// The on-sale is over and forgotten: give back what its crowd took.
		// Records are reused but never moved, and Go maps never shrink, so
		// without this an event would hold its peak until the process ends.
		e.recs = records{}
		e.byKey = map[sessionKey]handle{}
		e.byTicket = map[uint64]handle{}
		e.live = newLiveIndex(e.live.hash)
		e.queuedHeap.items, e.admittedHeap.items, e.endedHeap.items = nil, nil, nil
	}
}
