package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// TestQueueModel plays an admission, a leave and a join on a model of four
// queued sessions: the remaining sessions must be expected at exact
// positions, and the ended tickets known by the change that ended them.
func TestQueueModel(t *testing.T) {
	q := newQueueModel([]joined{{id: "a"}, {id: "b"}, {id: "c"}, {id: "d"}}, 3)
	rng := rand.New(rand.NewPCG(1, 7))
	admit := q.next(1, rng, mix{kindAdmit: 1})
	if admit.kind != kindAdmit || admit.ticket != 1 || admit.length != 3 || q.issued.Load() != 1 {
		t.Fatalf("admission %+v, issued %d", admit, q.issued.Load())
	}
	q.apply(admit, "")
	leave := q.next(2, rng, mix{kindLeave: 1})
	if leave.kind != kindLeave || leave.ticket < 2 || leave.ticket > 4 || leave.length != 2 {
		t.Fatalf("leave %+v", leave)
	}
	q.apply(leave, "")
	join := q.next(3, rng, mix{kindJoin: 1})
	if join.kind != kindJoin || join.ticket != 5 || join.length != 3 {
		t.Fatalf("join %+v", join)
	}
	q.apply(join, "e")

	fin := q.final()
	if fin.length != 3 {
		t.Errorf("final length %d, want 3", fin.length)
	}
	want := map[int]ending{1: {at: 1, kind: kindAdmit}, leave.ticket: {at: 2, kind: kindLeave}}
	if len(fin.ended) != len(want) || fin.ended[1] != want[1] || fin.ended[leave.ticket] != want[leave.ticket] {
		t.Errorf("ended %v, want %v", fin.ended, want)
	}
	var wantIDs []string
	for _, id := range []string{"b", "c", "d"} {
		if id != q.ids[leave.ticket] {
			wantIDs = append(wantIDs, id)
		}
	}
	wantIDs = append(wantIDs, "e")
	exp := q.expected(fin)
	var ids []string
	for i, e := range exp {
		ids = append(ids, e.id)
		if e.pos != int32(i+1) {
			t.Errorf("%s expected at %d, want %d", e.id, e.pos, i+1)
		}
	}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("expected sessions %v, want %v", ids, wantIDs)
	}
}

// TestQueueModelNextJoinsAnEmptyQueue: with no one queued, the only change
// left is a join, whatever the mix.
func TestQueueModelNextJoinsAnEmptyQueue(t *testing.T) {
	q := newQueueModel(nil, 1)
	c := q.next(1, rand.New(rand.NewPCG(1, 7)), mix{kindAdmit: 1})
	if c.kind != kindJoin || c.ticket != 1 || c.length != 1 {
		t.Errorf("change on an empty queue %+v", c)
	}
}

func queued(pos, length int32) *waitroomv1.PositionUpdate {
	return &waitroomv1.PositionUpdate{Status: waitroomv1.SessionStatus_SESSION_STATUS_QUEUED, Position: proto.Int32(pos), QueueLength: proto.Int32(length)}
}

// TestStreamCheck feeds three streams' messages for one admission of the
// first session and checks how each is classified and credited.
func TestStreamCheck(t *testing.T) {
	q := newQueueModel([]joined{{id: "a"}, {id: "b"}, {id: "c"}}, 1)
	sc := newStreamCheck(q, 3)
	now := time.Now()
	for i, f := range sc.streams {
		sc.onMsg(f, queued(int32(i+1), 3), now) // the state each opened on
	}
	admit := q.next(1, rand.New(rand.NewPCG(1, 7)), mix{kindAdmit: 1})
	q.apply(admit, "")
	admit.ack.Store(now.UnixNano())

	ready := &waitroomv1.PositionUpdate{Status: waitroomv1.SessionStatus_SESSION_STATUS_READY, Position: proto.Int32(0),
		QueueLength: proto.Int32(2), CheckoutToken: "t", CheckoutUrl: "https://shop.example/checkout"}
	sc.onMsg(sc.streams[0], ready, now.Add(time.Millisecond))
	sc.onMsg(sc.streams[0], queued(1, 2), now) // after its final READY
	sc.onMsg(sc.streams[1], queued(5, 2), now) // no state ticket 2 could be in
	sc.onMsg(sc.streams[2], queued(2, 2), now.Add(time.Millisecond))
	sc.onMsg(sc.streams[2], queued(2, 2), now) // the same again

	if got := sc.msgs.Load(); got != 8 {
		t.Errorf("messages %d, want 8", got)
	}
	if got := sc.unexp.Load(); got != 2 {
		t.Errorf("unexpected %d, want 2: %v", got, sc.badSamples())
	}
	if got := sc.dups.Load(); got != 1 {
		t.Errorf("duplicates %d, want 1", got)
	}
	if got := sc.credits.Load(); got != 2 {
		t.Errorf("credited pairs %d, want 2", got)
	}
	if l := sc.all.summary(); l.Count != 2 || l.MaxMS != 1 {
		t.Errorf("latency %+v, want 2 pairs of 1ms", l)
	}
	fin := q.final()
	if got := sc.atFinal(&fin); got != 1 {
		t.Errorf("%d streams at their final state, want 1 (ticket 3)", got)
	}
	if got := sc.ended(); got != 1 {
		t.Errorf("%d streams ended, want 1", got)
	}
	if got := sc.coalesced(&fin); got != 1 {
		t.Errorf("coalesced %d, want 1 (ticket 2's)", got)
	}
	if got := sc.notAtFinal(&fin); len(got) != 2 {
		t.Errorf("not at final %v, want tickets 1 and 2", got)
	}
}
