package main

import (
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"
)

// change is one queue change the tool made, in the order the server applied
// it (the tool makes them one at a time).
type change struct {
	kind   int
	ticket int   // the ticket that joined or left the queue
	length int32 // queue length after the change
	// sent is when it was asked for, ack when the server acknowledged it
	// (Unix ns; 0 until then).
	sent, ack atomic.Int64
}

// queueModel is what the tool believes the queue is, which every stream's
// messages are checked against. Tickets are the tool's own numbering in queue
// order: 1..S for the streamed sessions, then one per join it makes; a queued
// session's position is the live tickets below its own, plus one.
//
// Every stream's goroutine reads changes up to issued: a change is written in
// full before issued counts it. The rest belongs to the goroutine making the
// changes.
type queueModel struct {
	changes []change // [0] is the state the streams opened on
	issued  atomic.Int64

	ids      []string // session id by ticket; [0] is unused
	live     []bool   // by ticket
	pickable []int    // the live tickets, in no order, to pick a leave from
	where    []int    // each live ticket's index in pickable
	head     int      // no ticket below it is live
	length   int32
	admitted int32 // slots freed: one per admission
}

// newQueueModel starts the model on sessions, queued in this order, with room
// for changes changes.
func newQueueModel(sessions []joined, changes int) *queueModel {
	n := len(sessions)
	q := &queueModel{
		changes:  make([]change, changes+1),
		ids:      make([]string, 1, n+changes+1),
		live:     make([]bool, n+changes+2),
		pickable: make([]int, 0, n+changes),
		where:    make([]int, n+changes+2),
		head:     1,
		length:   int32(n),
	}
	for _, s := range sessions {
		q.add(s.id)
	}
	q.changes[0].length = int32(n)
	q.changes[0].ack.Store(time.Now().UnixNano())
	return q
}

// add queues the session id under the next ticket.
func (q *queueModel) add(id string) {
	t := len(q.ids)
	q.ids = append(q.ids, id)
	q.live[t] = true
	q.where[t] = len(q.pickable)
	q.pickable = append(q.pickable, t)
}

// drop takes ticket t out of the queue.
func (q *queueModel) drop(t int) {
	q.live[t] = false
	i := q.where[t]
	last := q.pickable[len(q.pickable)-1]
	q.pickable[i], q.where[last] = last, i
	q.pickable = q.pickable[:len(q.pickable)-1]
}

// next plans change k: a kind drawn from m while anyone is queued (a join
// otherwise), the ticket it moves and the length after it. It is issued to
// the streams before the call that makes it: a stream may show the change
// before the call returns. The caller makes the call and then applies it.
func (q *queueModel) next(k int, rng *rand.Rand, m mix) *change {
	kind := kindJoin
	if q.length > 0 {
		kind = m.draw(rng)
	}
	c := &q.changes[k]
	c.kind = kind
	switch kind {
	case kindJoin:
		c.ticket = len(q.ids)
		q.length++
	case kindLeave:
		c.ticket = q.pickable[rng.IntN(len(q.pickable))]
		q.length--
	case kindAdmit:
		for !q.live[q.head] {
			q.head++
		}
		c.ticket = q.head
		q.length--
	}
	c.length = q.length
	q.issued.Store(int64(k))
	return c
}

// apply records a change the server acknowledged; id is the session a join
// created.
func (q *queueModel) apply(c *change, id string) {
	if c.kind == kindJoin {
		q.add(id)
		return
	}
	q.drop(c.ticket)
}

// ending is the change that took a ticket out of the queue.
type ending struct{ at, kind int }

// finalState is what every stream must show once all changes are made.
type finalState struct {
	length int32
	below  []int32        // live tickets below each ticket
	ended  map[int]ending // by ticket; a ticket leaves the queue at most once
}

func (q *queueModel) final() finalState {
	below := make([]int32, len(q.ids)+1)
	for t := 1; t < len(q.ids); t++ {
		below[t+1] = below[t]
		if q.live[t] {
			below[t+1]++
		}
	}
	ended := map[int]ending{}
	for k := 1; k < len(q.changes); k++ {
		if c := &q.changes[k]; c.kind != kindJoin {
			ended[c.ticket] = ending{at: k, kind: c.kind}
		}
	}
	return finalState{length: q.length, below: below, ended: ended}
}

// expected is every session still queued with the exact position it must
// hold, in queue order.
func (q *queueModel) expected(fin finalState) []expect {
	var exp []expect
	for t := 1; t < len(q.ids); t++ {
		if q.live[t] {
			exp = append(exp, expect{id: q.ids[t], pos: fin.below[t] + 1})
		}
	}
	sort.Slice(exp, func(a, b int) bool { return exp[a].pos < exp[b].pos })
	return exp
}
