package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"

	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// TestStreamCheckRecurringState: a join at the tail and then a leave behind
// the stream give it the state it had two changes before. A server that
// held the join back (cadence) has nothing to send for the leave, and shows
// the next join's state, which recurs, at once: that message shows every
// change so far, and none of them may be counted late at the message after.
// A stream whose server really showed the older state and then the newer
// one must still match both. A message that only moves the estimated wait
// shows the changes since too.
func TestStreamCheckRecurringState(t *testing.T) {
	q := newQueueModel([]joined{{id: "a"}, {id: "b"}, {id: "c"}, {id: "d"}}, 4)
	sc := newStreamCheck(q, 3)
	sc.cad = &cadenceCheck{slack: 2 * time.Second, cad: fanout.Cadence{Coalesce: 100 * time.Millisecond}}
	at := timeline()
	// The queue is 4 long at the start.
	script(q, at, []scripted{{kindJoin, 5, 5, 1}, {kindLeave, 4, 4, 1.5}, {kindJoin, 6, 5, 2}, {kindJoin, 7, 6, 3.5}})
	msg := func(pos, length int32, updated float64) *waitroomv1.PositionUpdate {
		m := queued(pos, length)
		m.UpdatedAt = timestamppb.New(at(updated))
		return m
	}
	one, two, three := sc.streams[0], sc.streams[1], sc.streams[2]
	sc.onMsg(one, msg(1, 4, 0), at(0))
	sc.onMsg(two, msg(2, 4, 0), at(0))
	sc.onMsg(three, msg(3, 4, 0), at(0))

	// Stream one: 1 of 5 after change 3 (the same as after change 1), then
	// 1 of 6 after change 4.
	sc.onMsg(one, msg(1, 5, 2.05), at(2.1))
	sc.onMsg(one, msg(1, 6, 3.55), at(3.6))
	// Stream two: 2 of 5 made before change 2 was asked for (change 1's
	// state), then 2 of 4 (change 2's), 2 of 5 (change 3's), 2 of 6.
	sc.onMsg(two, msg(2, 5, 1.4), at(1.45))
	sc.onMsg(two, msg(2, 4, 1.6), at(1.65))
	sc.onMsg(two, msg(2, 5, 2.05), at(2.1))
	sc.onMsg(two, msg(2, 6, 3.55), at(3.6))

	// Stream three: 3 of 4 with a new estimated wait after change 2, then
	// 3 of 6.
	waited := msg(3, 4, 1.55)
	waited.EstimatedWait = durationpb.New(time.Minute)
	sc.onMsg(three, waited, at(1.6))
	sc.onMsg(three, msg(3, 6, 3.55), at(3.6))

	if n := sc.unexp.Load(); n != 0 {
		t.Fatalf("%d unexpected messages: %v", n, sc.badSamples())
	}
	if n := sc.cad.misses.Load(); n != 0 {
		t.Errorf("%d late pairs, want none: %v", n, sc.cad.bad)
	}
	if n := sc.credits.Load(); n != 12 {
		t.Errorf("%d pairs credited, want 12 (each change once per stream)", n)
	}
}

// TestStreamCheckRevertedChange: a join at the tail, held back by the
// cadence, then a leave behind the stream, bring back the state the stream
// shows: it shows the truth again, with no message to send. Twice over,
// then an admission: the one message after shows all five changes, and
// each change counts as reaching the stream when the first leave after it
// undid it, not when that message came.
func TestStreamCheckRevertedChange(t *testing.T) {
	q := newQueueModel([]joined{{id: "a"}, {id: "b"}, {id: "c"}, {id: "d"}}, 5)
	sc := newStreamCheck(q, 3)
	sc.cad = &cadenceCheck{slack: 1500 * time.Millisecond, cad: fanout.Cadence{Coalesce: 100 * time.Millisecond}}
	at := timeline()
	script(q, at, []scripted{{kindJoin, 5, 5, 1}, {kindLeave, 5, 4, 2}, {kindJoin, 6, 5, 3}, {kindLeave, 4, 4, 4}, {kindAdmit, 1, 3, 5}})
	three := sc.streams[2]
	sc.onMsg(three, queued(3, 4), at(0))
	m := queued(2, 3)
	m.UpdatedAt = timestamppb.New(at(5.04))
	sc.onMsg(three, m, at(5.05))
	if n := sc.unexp.Load(); n != 0 {
		t.Fatalf("%d unexpected messages: %v", n, sc.badSamples())
	}
	if n := sc.credits.Load(); n != 5 {
		t.Errorf("%d pairs credited, want 5", n)
	}
	// Counted from the message, the first join would be 4 s late; counted
	// from the last leave, 3 s.
	if n := sc.cad.misses.Load(); n != 0 {
		t.Errorf("%d late pairs, want none: %v", n, sc.cad.bad)
	}
	if got := sc.all.max.Load(); got > 1_100_000 {
		t.Errorf("slowest pair %dµs, want about 1s (a join, until the leave after it undid it)", got)
	}
}

// scripted is a change made in a test: asked for sent seconds into it.
type scripted struct {
	kind, ticket int
	length       int32
	sent         float64
}

// script issues cs to q as changes 1..len(cs), each acknowledged 10ms after
// it was asked for.
func script(q *queueModel, at func(float64) time.Time, cs []scripted) {
	for k, c := range cs {
		ch := &q.changes[k+1]
		ch.kind, ch.ticket, ch.length = c.kind, c.ticket, c.length
		ch.sent.Store(at(c.sent).UnixNano())
		ch.ack.Store(at(c.sent + 0.01).UnixNano())
	}
	q.issued.Store(int64(len(cs)))
}

// TestStreamCheckBeforeAck: a READY that reaches its stream before the tool
// hears the admission acknowledged is measured from the request, not as 0.
func TestStreamCheckBeforeAck(t *testing.T) {
	q := newQueueModel([]joined{{id: "a"}, {id: "b"}}, 1)
	sc := newStreamCheck(q, 1)
	sc.cad = &cadenceCheck{slack: time.Second}
	base := time.Now()
	sc.onMsg(sc.streams[0], queued(1, 2), base)
	ch := &q.changes[1]
	ch.kind, ch.ticket, ch.length = kindAdmit, 1, 1
	ch.sent.Store(base.Add(time.Second).UnixNano())
	q.issued.Store(1)
	ready := &waitroomv1.PositionUpdate{Status: waitroomv1.SessionStatus_SESSION_STATUS_READY,
		CheckoutToken: "t", CheckoutUrl: "https://shop.example/checkout"}
	sc.onMsg(sc.streams[0], ready, base.Add(1100*time.Millisecond))
	if n := sc.unexp.Load(); n != 0 {
		t.Fatalf("%d unexpected messages: %v", n, sc.badSamples())
	}
	if got := sc.cad.ready.max.Load(); got < 90_000 || got > 110_000 {
		t.Errorf("READY measured %dµs after the change, want about 100ms", got)
	}
}

// timeline returns the time s seconds after the call.
func timeline() func(s float64) time.Time {
	base := time.Now()
	return func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
}
