package queuetest

import (
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

func outboxOf(t *testing.T, st queue.Store) queue.Outbox {
	t.Helper()
	ob, ok := st.(queue.Outbox)
	if !ok {
		t.Fatalf("%T does not implement queue.Outbox", st)
	}
	return ob
}

func claim(t *testing.T, ob queue.Outbox, ev, consumer string, n int, minIdle time.Duration) []queue.OutboxEntry {
	t.Helper()
	es, err := ob.ClaimOutbox(t.Context(), ev, consumer, n, minIdle)
	if err != nil {
		t.Fatalf("ClaimOutbox(%s): %v", consumer, err)
	}
	return es
}

func outboxLen(t *testing.T, ob queue.Outbox, ev string) int64 {
	t.Helper()
	n, err := ob.OutboxLen(t.Context(), ev)
	if err != nil {
		t.Fatalf("OutboxLen: %v", err)
	}
	return n
}

func ack(t *testing.T, ob queue.Outbox, ev string, es ...queue.OutboxEntry) {
	t.Helper()
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	if err := ob.AckOutbox(t.Context(), ev, ids); err != nil {
		t.Fatalf("AckOutbox: %v", err)
	}
}

// seqsOf checks entries are numbered from..from+len-1 in order, with unique ids.
func wantSeqs(t *testing.T, what string, es []queue.OutboxEntry, seqs ...uint64) {
	t.Helper()
	ok := len(es) == len(seqs)
	seen := map[string]bool{}
	for i := 0; ok && i < len(es); i++ {
		ok = es[i].Change.Seq == seqs[i] && !seen[es[i].ID] && es[i].ID != ""
		seen[es[i].ID] = true
	}
	if !ok {
		got := make([]uint64, len(es))
		for i, e := range es {
			got[i] = e.Change.Seq
		}
		t.Fatalf("%s: entries with seqs %v (ids %v), want seqs %v with unique ids", what, got, es, seqs)
	}
}

// testOutboxRecords: every change is recorded once, as announced, in order;
// no-ops record nothing.
func testOutboxRecords(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ob := outboxOf(t, st)
	ev, now := newEventID(), epoch()
	if n := outboxLen(t, ob, ev); n != 0 {
		t.Fatalf("OutboxLen of an unknown event = %d", n)
	}
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: window})
	rec := Subscribe(t, st, ev)
	ss := joinN(t, st, ev, 3, now)
	if _, err := st.Leave(t.Context(), ss[1].ID, now); err != nil {
		t.Fatal(err)
	}
	admit(t, st, ev, now, 5)
	if _, err := st.Complete(t.Context(), ss[0].ID, now); err != nil {
		t.Fatal(err)
	}
	expire(t, st, ev, now.Add(ttl+time.Second), 5)
	// No-ops.
	st.Leave(t.Context(), ss[1].ID, now)
	admit(t, st, ev, now, 5)

	if n := outboxLen(t, ob, ev); n != 7 {
		t.Fatalf("OutboxLen = %d after 7 changes", n)
	}
	es := claim(t, ob, ev, "relay-1", 100, time.Hour)
	wantSeqs(t, "first claim", es, 1, 2, 3, 4, 5, 6, 7)
	cs := rec.upTo(t, 7)
	for i, e := range es {
		c := cs[i]
		checkChange(t, ev, e.Change, wantChange{kind: c.Kind, sessions: c.Sessions, length: c.QueueLength, at: c.At, deadline: c.CheckoutDeadline})
	}
	if other := claim(t, ob, ev, "relay-2", 100, time.Hour); len(other) != 0 {
		t.Fatalf("claimed entries were handed to another consumer: %v", other)
	}
	if n := outboxLen(t, ob, ev); n != 7 {
		t.Fatalf("OutboxLen = %d with 7 claimed, unacknowledged entries", n)
	}
}

// testOutboxClaimAck: one consumer holds an event's outbox at a time; it
// gets each new entry once, in order, n at a time, and its own unacked
// entries again with every claim (renewed); acknowledged entries are gone
// for good, and once it holds none another consumer may take over.
func testOutboxClaimAck(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ob := outboxOf(t, st)
	ev, now := newEventID(), epoch()
	joinN(t, st, ev, 5, now)

	a := claim(t, ob, ev, "relay-1", 2, time.Hour)
	wantSeqs(t, "claim 2", a, 1, 2)
	if b := claim(t, ob, ev, "relay-2", 2, time.Hour); len(b) != 0 {
		t.Fatalf("a second consumer got entries while the first held fresh claims: %v", b)
	}
	wantSeqs(t, "the holder renews (n=0)", claim(t, ob, ev, "relay-1", 0, time.Hour), 1, 2)
	b := claim(t, ob, ev, "relay-1", 2, time.Hour)
	wantSeqs(t, "the holder's own entries again, and 2 more", b, 1, 2, 3, 4)
	ack(t, ob, ev, a...)
	if n := outboxLen(t, ob, ev); n != 3 {
		t.Fatalf("OutboxLen = %d after acking 2 of 5", n)
	}
	ack(t, ob, ev, a...) // acks may be retried
	if n := outboxLen(t, ob, ev); n != 3 {
		t.Fatalf("OutboxLen = %d after repeating an ack", n)
	}
	if c := claim(t, ob, ev, "relay-3", 10, time.Hour); len(c) != 0 {
		t.Fatalf("another consumer got entries while 3 and 4 were held: %v", c)
	}
	ack(t, ob, ev, b[2:]...)
	c := claim(t, ob, ev, "relay-3", 10, time.Hour)
	wantSeqs(t, "another consumer, once the first holds nothing", c, 5)
	ack(t, ob, ev, c...)
	if n := outboxLen(t, ob, ev); n != 0 {
		t.Fatalf("OutboxLen = %d after acking everything", n)
	}
	if d := claim(t, ob, ev, "relay-1", 10, 0); len(d) != 0 {
		t.Fatalf("acknowledged entries came back: %v", d)
	}
	join(t, st, ev, "late", now)
	e := claim(t, ob, ev, "relay-1", 10, time.Hour)
	wantSeqs(t, "after a new change", e, 6)
	ack(t, ob, ev, e...)
	if n := outboxLen(t, ob, ev); n != 0 {
		t.Fatalf("OutboxLen = %d at the end", n)
	}
}

// testOutboxTakeover: entries a consumer claimed and left idle for longer
// than minIdle go to another consumer.
func testOutboxTakeover(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ob := outboxOf(t, st)
	ev, now := newEventID(), epoch()
	joinN(t, st, ev, 3, now)

	wantSeqs(t, "first consumer", claim(t, ob, ev, "dead", 2, time.Hour), 1, 2)
	if got := claim(t, ob, ev, "alive", 10, time.Hour); len(got) != 0 {
		t.Fatalf("a fresh claim was taken over: %v", got)
	}
	const minIdle = 20 * time.Millisecond
	time.Sleep(3 * minIdle) // let the first consumer's claim go idle
	got := claim(t, ob, ev, "alive", 10, minIdle)
	wantSeqs(t, "takeover, then the entry never claimed", got, 1, 2, 3)
	if again := claim(t, ob, ev, "dead", 10, time.Hour); len(again) != 0 {
		t.Fatalf("taken-over entries handed out again: %v", again)
	}
	ack(t, ob, ev, got...)
	if n := outboxLen(t, ob, ev); n != 0 {
		t.Fatalf("OutboxLen = %d after the new consumer acked", n)
	}
}

// testOutboxLateComplete: a Complete refused because the checkout deadline
// has passed records nothing; Expire's change is the next entry.
func testOutboxLateComplete(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ob := outboxOf(t, st)
	ev, now := newEventID(), epoch()
	ss := joinN(t, st, ev, 1, now)
	admit(t, st, ev, now, 1)
	deadline := now.Add(window)
	_, err := st.Complete(t.Context(), ss[0].ID, deadline)
	wantStatusError(t, "Complete at the deadline", err, queue.ErrNotAdmitted, queue.StatusExpired)
	if n := outboxLen(t, ob, ev); n != 2 {
		t.Fatalf("OutboxLen = %d after a join, an admission and a refused Complete", n)
	}
	expire(t, st, ev, deadline, 1)
	es := claim(t, ob, ev, "relay-1", 10, time.Hour)
	wantSeqs(t, "join, admission, expiry", es, 1, 2, 3)
	if k := es[2].Change.Kind; k != queue.ChangeExpired {
		t.Fatalf("entry 3 is %v, want %v", k, queue.ChangeExpired)
	}
}
