package main

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// The floor's queue is the least that answers the load tool's calls exactly:
// a slice of waiting sessions in join order under one lock, every session's
// index kept current, and a change pushed to every stream's one-slot mailbox.
// No store, no change log, no coalescing window, no presence, no tokens: what
// is left is the cost of Connect and HTTP/2 carrying the same messages.

// floorToken stands in for a checkout token: as long as a typical one (an
// ES256 JWT), so a READY message has the same size.
var floorToken = "floor." + strings.Repeat("x", 290)

const floorCheckoutURL = "http://127.0.0.1/checkout"

// floorHeartbeat is what the floor's first message on a stream gives as the
// heartbeat interval (the bench runs' QUEUE_STREAM_HEARTBEAT), for the size;
// the floor sends no heartbeats.
const floorHeartbeat = 20 * time.Second

// floorQueue is every event's queue.
type floorQueue struct {
	mu      sync.RWMutex
	events  map[string]*floorEvent
	streams atomic.Int64 // open streams
	// cad, when set, holds position messages to the server's streaming
	// cadence (floorcadence.go); nil sends every stream every change at once.
	cad *fanout.Cadence
	// held counts position messages the cadence held back, as the server's
	// /debug/stats does.
	held atomic.Int64
}

func newFloorQueue(cad *fanout.Cadence) *floorQueue {
	return &floorQueue{events: map[string]*floorEvent{}, cad: cad}
}

// floorEvent is one event's queue.
type floorEvent struct {
	mu         sync.RWMutex
	max        int32 // checkout slots
	active     bool
	processing int32 // admitted sessions
	waiting    []*floorSession
	byID       map[string]*floorSession
	watched    int // sessions with a mailbox
	// With a cadence: changed is set by a change the streams were not
	// shown yet, due is when the first held-back message may go (Unix ns,
	// 0 for none).
	cad     *fanout.Cadence
	changed bool
	due     int64
}

// floorSession is one session; idx is its index in waiting while queued.
type floorSession struct {
	id     string
	idx    int
	status queue.Status
	box    *mailbox // set while a stream is open on it
	stream floorStream
}

// mailbox is a stream's latest state: newest wins, so a slow stream never
// holds up the others.
type mailbox struct {
	mu   sync.Mutex
	v    queue.View
	wake chan struct{}
}

func newMailbox() *mailbox { return &mailbox{wake: make(chan struct{}, 1)} }

func (b *mailbox) post(v queue.View) {
	b.mu.Lock()
	b.v = v
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *mailbox) take() queue.View {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v
}

// event returns the event, made on first use.
func (q *floorQueue) event(id string) *floorEvent {
	q.mu.RLock()
	e := q.events[id]
	q.mu.RUnlock()
	if e != nil {
		return e
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if e = q.events[id]; e == nil {
		e = &floorEvent{byID: map[string]*floorSession{}, cad: q.cad}
		q.events[id] = e
	}
	return e
}

// session finds a session by id; the event is the id's prefix.
func (q *floorQueue) session(id string) (*floorEvent, *floorSession) {
	q.mu.RLock()
	e := q.events[queue.EventOfSession(id)]
	q.mu.RUnlock()
	if e == nil {
		return nil, nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e, e.byID[id]
}

// view is s's state; e.mu must be held.
func (e *floorEvent) view(s *floorSession) queue.View {
	v := queue.View{Session: queue.Session{ID: s.id, Status: s.status}, UpdatedAt: time.Now()}
	switch s.status {
	case queue.StatusQueued:
		v.Position, v.QueueLength = int64(s.idx+1), int64(len(e.waiting))
		v.EstimatedWait = time.Duration(v.Position) * time.Second
	case queue.StatusReady:
		v.CheckoutToken, v.CheckoutURL = floorToken, floorCheckoutURL
	}
	return v
}

// join queues a new session at the tail.
func (e *floorEvent) join(eventID string) queue.View {
	// The id's random bytes come from a system call: not under the lock.
	s := &floorSession{id: queue.NewSessionID(eventID), status: queue.StatusQueued}
	e.mu.Lock()
	defer e.mu.Unlock()
	s.idx = len(e.waiting)
	e.waiting = append(e.waiting, s)
	e.byID[s.id] = s
	e.broadcast(nil)
	return e.view(s)
}

// end takes a queued session out of the queue with status st; e.mu must be
// held.
func (e *floorEvent) end(s *floorSession, st queue.Status) {
	copy(e.waiting[s.idx:], e.waiting[s.idx+1:])
	e.waiting[len(e.waiting)-1] = nil
	e.waiting = e.waiting[:len(e.waiting)-1]
	for i := s.idx; i < len(e.waiting); i++ {
		e.waiting[i].idx = i
	}
	s.status, s.idx = st, -1
	if st == queue.StatusReady {
		e.processing++
	}
	e.broadcast(s)
}

// leave takes a queued session out of the queue; it reports whether it was
// queued.
func (e *floorEvent) leave(s *floorSession) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.status != queue.StatusQueued {
		return false
	}
	e.end(s, queue.StatusLeft)
	return true
}

// set changes the event's state and capacity and admits from the head while
// slots are free.
func (e *floorEvent) set(active bool, max int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.active, e.max = active, max
	for e.active && e.processing < e.max && len(e.waiting) > 0 {
		e.end(e.waiting[0], queue.StatusReady)
	}
}

func (e *floorEvent) figures() (queued, processing, max int32, active bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return int32(len(e.waiting)), e.processing, e.max, e.active
}

// broadcast posts every streamed session's new state: a change moves every
// queue length, so every stream gets a message (with a cadence, ended's now
// and the others' at the next window). ended, when set, is the session the
// change took out. e.mu must be held.
func (e *floorEvent) broadcast(ended *floorSession) {
	if e.watched == 0 {
		return
	}
	if ended != nil && ended.box != nil {
		ended.box.post(e.view(ended))
	}
	if e.cad != nil {
		e.changed = true
		return
	}
	for _, s := range e.waiting {
		if s.box != nil {
			s.box.post(e.view(s))
		}
	}
}

// watch opens a mailbox on s holding its current state.
func (e *floorEvent) watch(s *floorSession) *mailbox {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := newMailbox()
	if s.box == nil {
		e.watched++
	}
	s.box = b
	e.postLocked(s, e.cad, time.Now().UnixNano())
	return b
}

// unwatch closes s's mailbox b, unless a newer stream replaced it.
func (e *floorEvent) unwatch(s *floorSession, b *mailbox) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.box == b {
		s.box = nil
		e.watched--
	}
}

// status is s's state now.
func (e *floorEvent) status(s *floorSession) queue.View {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.view(s)
}
