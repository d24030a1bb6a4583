package memstore

import (
	"cmp"
	"container/heap"
	"context"
	"slices"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// This file keeps the processor's work in proportion to the events that
// have any: the live events are a map updated with every change, under the
// same lock, and the idle ones wait in a queue ordered by when they are next
// due to be looked at (to be forgotten, or purged of ended sessions), so
// that neither LiveEvents nor ForgetIdle ever walks every event.

// busy reports whether e has live sessions or outbox entries.
func (e *event) busy() bool {
	return e.waiting.Len() > 0 || e.processing > 0 || len(e.out.byID) > 0
}

// settle lists e as live or, when it has just gone idle at now, queues it
// to be looked at again. Called with s.mu held after every change.
func (s *Store) settle(e *event, now int64) {
	id := e.cfg.ID
	if e.busy() {
		s.live[id] = e
		return
	}
	if _, wasLive := s.live[id]; !wasLive && e.idleGen > 0 {
		return // idle already, and queued
	}
	delete(s.live, id)
	e.idleGen++
	heap.Push(&s.idle, idleEntry{e: e, gen: e.idleGen, since: now, due: now})
}

// LiveEvents implements queue.Store.
func (s *Store) LiveEvents(ctx context.Context) ([]queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]queue.Event, 0, len(s.live))
	for _, e := range s.live {
		out = append(out, e.cfg)
	}
	slices.SortFunc(out, func(a, b queue.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ForgetIdle implements queue.Store. It also purges idle events' ended
// sessions once their time to stay readable has passed, which Expire (only
// called for live events) no longer does for them.
func (s *Store) ForgetIdle(ctx context.Context, now time.Time, idleFor time.Duration, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := unixNano(now)
	forgotten := 0
	for forgotten < limit && len(s.idle) > 0 && s.idle[0].due <= at {
		en := heap.Pop(&s.idle).(idleEntry)
		e := en.e
		if s.events[e.cfg.ID] != e || e.idleGen != en.gen || s.live[e.cfg.ID] == e {
			continue // forgotten, or live again since
		}
		e.purge(at)
		next := int64(unset)
		if e.auto {
			forgetAt := addNano(en.since, int64(idleFor))
			if e.deleted {
				forgetAt = en.since // relayed: nothing to wait for
			}
			switch {
			case forgetAt > at:
				next = forgetAt
			case e.endedHeap.len() == 0:
				s.forget(e)
				forgotten++
				continue
			default:
				next = e.endedHeap.minKey()
			}
		} else if e.endedHeap.len() > 0 {
			next = e.endedHeap.minKey()
		}
		if next != unset {
			en.due = next
			heap.Push(&s.idle, en)
		}
	}
	return forgotten, nil
}

// forget drops an idle event, keeping only its last Seq. Subscriptions are
// kept by event id apart from the event, so they follow it if it is joined
// again.
func (s *Store) forget(e *event) {
	s.lastSeq[e.cfg.ID] = e.seq
	delete(s.events, e.cfg.ID)
}

// idleEntry says when to look at an idle event again.
type idleEntry struct {
	e     *event
	gen   uint64 // the event's idleGen when it went idle
	since int64  // when it went idle
	due   int64
}

// idleQueue is a min-heap of idleEntry by due (container/heap).
type idleQueue []idleEntry

func (q idleQueue) Len() int           { return len(q) }
func (q idleQueue) Less(i, j int) bool { return q[i].due < q[j].due }
func (q idleQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *idleQueue) Push(x any)        { *q = append(*q, x.(idleEntry)) }
func (q *idleQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = idleEntry{}
	*q = old[:len(old)-1]
	return x
}
