package main

import (
	"context"
	"time"

	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// With -cadence the floor sends the messages the server's streaming cadence
// sends, at the times it sends them: changes coalesced over the server's
// window, every change within the realtime positions, and further back at
// most one message per the position's interval, the first after a quiet
// spell at the session's phase of it (fanout.Cadence, the server's own
// function). A stream that is sent its messages spread out costs the stack
// more per message than one sent them in bursts (fewer frames share a
// write), so the cadence scenarios divide by this floor, not by one that
// sends every stream every change at once.
//
// What the floor does beyond the bare stack here is one pass over an event's
// waiting sessions per window with a change or a held message due: a few
// nanoseconds a session, against the server's parking of held streams.

// floorStream is what the cadence knows of a streamed session: the position
// and queue length its last message showed, when the next may go (Unix ns)
// and whether a change is held back from it.
type floorStream struct {
	pos, length int64
	nextAt      int64
	held        bool
}

// pace runs the cadence of every event until ctx ends: each window, the
// events with a change or a held message due show their streams the new
// states the cadence lets through.
func (q *floorQueue) pace(ctx context.Context) {
	every(ctx, q.cad.Coalesce, q.paceOnce)
}

// paceOnce is one window of pace.
func (q *floorQueue) paceOnce() {
	q.mu.RLock()
	events := make([]*floorEvent, 0, len(q.events))
	for _, e := range q.events {
		events = append(events, e)
	}
	q.mu.RUnlock()
	now := time.Now().UnixNano()
	for _, e := range events {
		e.mu.Lock()
		if e.changed || (e.due != 0 && now >= e.due) {
			q.held.Add(e.paceLocked(q.cad, now))
		}
		e.mu.Unlock()
	}
}

// paceLocked posts each streamed waiting session's new state unless the
// cadence holds it back, and returns how many it held; e.mu must be held.
func (e *floorEvent) paceLocked(cad *fanout.Cadence, now int64) (held int64) {
	e.changed, e.due = false, 0
	n := int64(len(e.waiting))
	for i, s := range e.waiting {
		if s.box == nil {
			continue
		}
		st, pos := &s.stream, int64(i+1)
		if pos == st.pos && n == st.length {
			st.held = false // a later change undid the held one
			continue
		}
		if now >= st.nextAt && !st.held {
			if d := cad.FirstDelay(s.id, pos); d > 0 {
				st.nextAt = now + int64(d)
			}
		}
		if now < st.nextAt {
			st.held, held = true, held+1
			if e.due == 0 || st.nextAt < e.due {
				e.due = st.nextAt
			}
			continue
		}
		e.postLocked(s, cad, now)
	}
	return held
}

// postLocked posts s's state now and notes when the cadence lets the next
// position message go; e.mu must be held.
func (e *floorEvent) postLocked(s *floorSession, cad *fanout.Cadence, now int64) {
	v := e.view(s)
	s.box.post(v)
	s.stream = floorStream{pos: v.Position, length: v.QueueLength}
	if cad != nil {
		s.stream.nextAt = now + int64(cad.Gap(v.Position))
	}
}
