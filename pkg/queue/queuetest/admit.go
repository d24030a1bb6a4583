package queuetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// testAdmit: FIFO from the head, never above MaxConcurrent, at most limit.
func testAdmit(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 3, CheckoutWindow: window})
	ss := joinN(t, st, ev, 10, now)
	rec := Subscribe(t, st, ev)

	at := now.Add(time.Minute)
	first := admit(t, st, ev, at, 2)
	if !slices.Equal(ids(first), ids(ss[:2])) {
		t.Fatalf("Admit(limit 2) = %v, want the head %v", ids(first), ids(ss[:2]))
	}
	for i, s := range first {
		want := ss[i]
		want.Status, want.AdmittedAt, want.CheckoutDeadline = queue.StatusReady, at, at.Add(window)
		if !sameSession(s, want) {
			t.Fatalf("admitted %+v, want %+v", s, want)
		}
		got, pl := session(t, st, s.ID)
		if !sameSession(got, want) || pl.Position != 0 {
			t.Fatalf("admitted session reads %+v %+v, want %+v at position 0", got, pl, want)
		}
	}
	second := admit(t, st, ev, at, 10)
	if !slices.Equal(ids(second), ids(ss[2:3])) {
		t.Fatalf("Admit with one slot left = %v, want %v", ids(second), ids(ss[2:3]))
	}
	if more := admit(t, st, ev, at, 10); len(more) != 0 {
		t.Fatalf("Admit at capacity admitted %v", ids(more))
	}
	if s := stats(t, st, ev); s.Processing != 3 || s.QueueLength != 7 || s.Seq != 12 {
		t.Fatalf("stats = %+v, want processing 3, length 7, seq 12", s)
	}
	checkPlaces(t, st, ev, ids(ss))

	cs := rec.upTo(t, 12)
	if len(cs) != 2 {
		t.Fatalf("want 2 admissions announced, got: %s", formatChanges(cs))
	}
	checkChange(t, ev, cs[0], wantChange{kind: queue.ChangeAdmitted, sessions: changedAs(queue.StatusReady, ss[:2]...),
		length: 8, at: at, deadline: at.Add(window)})
	checkChange(t, ev, cs[1], wantChange{kind: queue.ChangeAdmitted, sessions: changedAs(queue.StatusReady, ss[2]),
		length: 7, at: at, deadline: at.Add(window)})

	// Raising the capacity lets more in, still from the head.
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: window})
	if got := admit(t, st, ev, at, 10); !slices.Equal(ids(got), ids(ss[3:5])) {
		t.Fatalf("after raising capacity admitted %v, want %v", ids(got), ids(ss[3:5]))
	}
	// An event nobody joined admits nobody.
	if got := admit(t, st, newEventID(), at, 10); len(got) != 0 {
		t.Fatalf("unknown event admitted %v", got)
	}
	checkPlaces(t, st, ev, ids(ss))
}

// testAdmitHeldByState: paused and closed events admit nobody.
func testAdmitHeldByState(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	ss := joinN(t, st, ev, 3, now)
	for _, state := range []queue.EventState{queue.EventPaused, queue.EventClosed} {
		e := defaultEvent(ev)
		e.State = state
		putEvent(t, st, e)
		if got := admit(t, st, ev, now, 10); len(got) != 0 {
			t.Fatalf("%v event admitted %v", state, ids(got))
		}
		if s := stats(t, st, ev); s.Seq != 3 || s.Processing != 0 || s.QueueLength != 3 {
			t.Fatalf("%v event: stats %+v", state, s)
		}
	}
	putEvent(t, st, defaultEvent(ev))
	if got := admit(t, st, ev, now, 10); !slices.Equal(ids(got), ids(ss)) {
		t.Fatalf("active again: admitted %v, want %v", ids(got), ids(ss))
	}
}

// testExpireQueued: queued sessions past ExpiresAt leave the queue as Expired.
func testExpireQueued(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	early := joinN(t, st, ev, 3, now)
	late, _ := join(t, st, ev, "late", now.Add(30*time.Minute))
	rec := Subscribe(t, st, ev)

	if got := expire(t, st, ev, now.Add(ttl-time.Second), 10); len(got) != 0 {
		t.Fatalf("expired %v before their time", ids(got))
	}
	at := now.Add(ttl + time.Second)
	got := expire(t, st, ev, at, 10)
	slices.SortFunc(got, func(a, b queue.Session) int { return compare(a.Ticket, b.Ticket) })
	if !slices.Equal(ids(got), ids(early)) {
		t.Fatalf("Expire = %v, want %v", ids(got), ids(early))
	}
	for i, s := range got {
		want := early[i]
		want.Status, want.EndedAt = queue.StatusExpired, at
		if !sameSession(s, want) {
			t.Fatalf("expired %+v, want %+v", s, want)
		}
		if r, pl := session(t, st, s.ID); !sameSession(r, want) || pl.Position != 0 {
			t.Fatalf("expired session reads %+v %+v", r, pl)
		}
	}
	if _, pl := session(t, st, late.ID); pl.Position != 1 || pl.QueueLength != 1 {
		t.Fatalf("the session left behind stands at %+v, want 1 of 1", pl)
	}
	cs := rec.upTo(t, 5)
	if len(cs) != 1 {
		t.Fatalf("want one expiry change, got: %s", formatChanges(cs))
	}
	checkChange(t, ev, cs[0], wantChange{kind: queue.ChangeExpired, sessions: changedAs(queue.StatusExpired, early...), length: 1, at: at})
	// An expired user may join again.
	again, pl := join(t, st, ev, "u0", at)
	if again.Ticket != 5 || pl.Position != 2 {
		t.Fatalf("rejoin after expiry: %+v %+v", again, pl)
	}
	checkPlaces(t, st, ev, append(ids(early), late.ID, again.ID))
}

// testExpireAdmitted: admitted sessions past their checkout deadline expire
// and free their slots; queued ones are not touched by a checkout deadline.
func testExpireAdmitted(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: window})
	ss := joinN(t, st, ev, 4, now)
	adm := admit(t, st, ev, now, 2)
	if len(adm) != 2 {
		t.Fatalf("admitted %v", ids(adm))
	}
	if got := expire(t, st, ev, now.Add(window-time.Second), 10); len(got) != 0 {
		t.Fatalf("expired %v within the checkout window", ids(got))
	}
	rec := Subscribe(t, st, ev)
	at := now.Add(window + time.Second)
	got := expire(t, st, ev, at, 10)
	slices.SortFunc(got, func(a, b queue.Session) int { return compare(a.Ticket, b.Ticket) })
	if !slices.Equal(ids(got), ids(ss[:2])) {
		t.Fatalf("Expire = %v, want the admitted %v", ids(got), ids(ss[:2]))
	}
	for _, s := range got {
		if s.Status != queue.StatusExpired || !s.EndedAt.Equal(at) || !s.AdmittedAt.Equal(now) {
			t.Fatalf("expired %+v", s)
		}
	}
	if s := stats(t, st, ev); s.Processing != 0 || s.QueueLength != 2 {
		t.Fatalf("stats after expiring the admitted: %+v", s)
	}
	cs := rec.upTo(t, 6)
	checkChange(t, ev, cs[0], wantChange{kind: queue.ChangeExpired, sessions: changedAs(queue.StatusExpired, ss[:2]...), length: 2, at: at})
	// The freed slots go to the next in line.
	if next := admit(t, st, ev, at, 10); !slices.Equal(ids(next), ids(ss[2:])) {
		t.Fatalf("after expiry admitted %v, want %v", ids(next), ids(ss[2:]))
	}
	checkPlaces(t, st, ev, ids(ss))
}

// testExpireLimit: at most limit sessions per call, the rest on later calls.
func testExpireLimit(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: window})
	ss := joinN(t, st, ev, 7, now)
	admit(t, st, ev, now, 2)
	at := now.Add(ttl + time.Second) // past every deadline
	seen := map[string]bool{}
	for _, want := range []int{3, 3, 1, 0} {
		got := expire(t, st, ev, at, 3)
		if len(got) != want {
			t.Fatalf("Expire(limit 3) ended %d sessions, want %d", len(got), want)
		}
		for _, s := range got {
			if seen[s.ID] {
				t.Fatalf("session %s expired twice", s.ID)
			}
			seen[s.ID] = true
		}
		checkPlaces(t, st, ev, ids(ss))
	}
	if s := stats(t, st, ev); s.Processing != 0 || s.QueueLength != 0 || s.Seq != 7+1+3 {
		t.Fatalf("stats after expiring everyone: %+v", s)
	}
}

// testPositionsStayExact drives a random mix of joins, leaves, admissions,
// completions and expiries, checking every queued session's place after
// each step.
func testPositionsStayExact(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 4, CheckoutWindow: window})
	r := rand.New(rand.NewPCG(uint64(now.UnixNano()), 1))
	t.Logf("seed %d", now.UnixNano())
	var known []string
	var ready []string
	clock := now
	for step := range 120 {
		clock = clock.Add(time.Duration(r.IntN(90)) * time.Second)
		if len(known) == 0 {
			s, _ := join(t, st, ev, fmt.Sprintf("first%d", step), clock)
			known = append(known, s.ID)
		}
		switch k := r.IntN(10); {
		case k < 5:
			s, _ := join(t, st, ev, fmt.Sprintf("u%d", step), clock)
			known = append(known, s.ID)
		case k < 7:
			id := known[r.IntN(len(known))]
			_, err := st.Leave(t.Context(), id, clock)
			refused(t, "Leave", err, queue.ErrNotQueued, queue.StatusQueued)
		case k < 8:
			ready = append(ready, ids(admit(t, st, ev, clock, 1+r.IntN(3)))...)
		case k < 9:
			if len(ready) > 0 {
				i := r.IntN(len(ready))
				_, err := st.Complete(t.Context(), ready[i], clock)
				refused(t, "Complete", err, queue.ErrNotAdmitted, queue.StatusReady)
				ready = slices.Delete(ready, i, i+1)
			}
		default:
			// Jump well past some deadlines.
			clock = clock.Add(time.Duration(r.IntN(40)) * time.Minute)
			expire(t, st, ev, clock, 1+r.IntN(5))
		}
		checkPlaces(t, st, ev, known)
		if s := stats(t, st, ev); s.Processing > 4 || s.Processing < 0 {
			t.Fatalf("processing %d with capacity 4", s.Processing)
		}
	}
}

// refused accepts success, a *queue.StatusError wrapping sentinel for any
// status but the one the operation needs, and ErrSessionNotFound for a
// session ended so long ago that the store forgot it.
func refused(t *testing.T, what string, err, sentinel error, needs queue.Status) {
	t.Helper()
	if err == nil || errors.Is(err, queue.ErrSessionNotFound) {
		return
	}
	var se *queue.StatusError
	if !errors.Is(err, sentinel) || !errors.As(err, &se) || se.Status == needs {
		t.Fatalf("%s: %v", what, err)
	}
}
