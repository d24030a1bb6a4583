package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// This file holds the fair start (queue.FairStart): pre-queue joins and the
// placement.

// joinPreQueue makes r, a new session, a pre-queue session if its join is
// one: it extends the pre-queue, and waits the session TTL from the start.
func (e *event) joinPreQueue(r *rec, p queue.JoinParams) {
	fs := &e.cfg.FairStart
	if !fs.JoinsPreQueue(p.Now, r.ticket) {
		return
	}
	fs.Last = r.ticket
	r.expiresAt = unixNano(fs.SaleStartsAt.Add(p.TTL))
}

// PlacePreQueue implements queue.Store. It holds the lock for the whole
// placement: O(n log n) for n in the pre-queue.
func (s *Store) PlacePreQueue(ctx context.Context, eventID string, now time.Time) (queue.FairStart, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return queue.FairStart{}, false, nil
	}
	fs := &e.cfg.FairStart
	if !fs.Due(now) {
		return e.cfg.FairStart, false, nil
	}
	// The pre-queue's waiting sessions, in ticket order.
	var tickets []uint64
	var ids []string
	var hs []handle
	for t := fs.After + 1; t <= fs.Last; t++ {
		h, ok := e.byTicket[t]
		if !ok {
			continue // left or expired before the start
		}
		tickets = append(tickets, t)
		ids = append(ids, e.session(e.recs.at(h)).ID)
		hs = append(hs, h)
	}
	// Every session keeps its lane: out of its lane's set under its old
	// ticket, back in under the new one.
	for _, h := range hs {
		e.dequeueLane(e.recs.at(h))
	}
	order := make([]string, len(ids))
	for i, j := range fs.Permutation(ids) {
		h := hs[j]
		e.recs.at(h).ticket = tickets[i]
		e.byTicket[tickets[i]] = h
		e.enqueueLane(e.recs.at(h))
		order[i] = ids[j]
	}
	fs.PlacedAt, fs.Placed, e.order = now, int64(len(order)), order
	s.announce(e, queue.Change{Kind: queue.ChangePlaced, At: now})
	fs.PlacedSeq = e.seq
	return e.cfg.FairStart, true, nil
}

// PreQueue implements queue.Store.
func (s *Store) PreQueue(ctx context.Context, eventID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil, queue.ErrEventNotFound
	}
	return slices.Clone(e.order), nil
}
