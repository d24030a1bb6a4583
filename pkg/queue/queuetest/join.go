package queuetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// testJoinFIFO: many joins in the same millisecond take tickets 1..n in
// arrival order and stand at positions 1..n.
func testJoinFIFO(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	const n = 40
	var known []string
	for i := range n {
		p := joinParams(ev, fmt.Sprintf("u%d", i), now) // the same instant for all
		s, pl, created, err := st.Join(t.Context(), p)
		if err != nil || !created {
			t.Fatalf("Join %d: created=%v err=%v", i, created, err)
		}
		want := queue.Session{
			ID: p.SessionID, UserID: p.UserID, EventID: ev, Ticket: uint64(i + 1),
			Status: queue.StatusQueued, JoinedAt: now, ExpiresAt: now.Add(ttl),
		}
		if !sameSession(s, want) {
			t.Fatalf("Join %d returned %+v, want %+v", i, s, want)
		}
		if pl.Position != int64(i+1) || pl.QueueLength != int64(i+1) || pl.Seq != uint64(i+1) {
			t.Fatalf("Join %d: place %+v, want position %d, length %d, seq %d", i, pl, i+1, i+1, i+1)
		}
		known = append(known, s.ID)
	}
	for i, id := range known {
		s, pl := session(t, st, id)
		if s.Ticket != uint64(i+1) || pl.Position != int64(i+1) || pl.QueueLength != n || pl.Seq != n {
			t.Fatalf("session %d: ticket %d place %+v", i, s.Ticket, pl)
		}
	}
	checkPlaces(t, st, ev, known)
}

// sameSession compares sessions with time.Time.Equal.
func sameSession(a, b queue.Session) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.EventID == b.EventID && a.Ticket == b.Ticket &&
		a.Status == b.Status && a.JoinedAt.Equal(b.JoinedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.AdmittedAt.Equal(b.AdmittedAt) && a.CheckoutDeadline.Equal(b.CheckoutDeadline) && a.EndedAt.Equal(b.EndedAt)
}

// testJoinRegistersEvent: the first join of an unknown event registers
// JoinParams.NewEvent.
func testJoinRegistersEvent(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	if _, _, err := st.Event(t.Context(), ev); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("Event before the first join: err = %v, want ErrEventNotFound", err)
	}
	p := joinParams(ev, "u", now)
	p.NewEvent.MaxConcurrent = 7
	if _, _, _, err := st.Join(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	e, s, err := st.Event(t.Context(), ev)
	if err != nil {
		t.Fatalf("Event after the first join: %v", err)
	}
	if !sameEvent(e, p.NewEvent) {
		t.Fatalf("registered event = %+v, want %+v", e, p.NewEvent)
	}
	if s != (queue.EventStats{QueueLength: 1, Processing: 0, Seq: 1}) {
		t.Fatalf("stats = %+v", s)
	}
	// A second join's NewEvent must not replace the settings.
	p2 := joinParams(ev, "u2", now)
	p2.NewEvent.MaxConcurrent = 99
	if _, _, _, err := st.Join(t.Context(), p2); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := st.Event(t.Context(), ev); e.MaxConcurrent != 7 {
		t.Fatalf("a later join replaced the event's settings: %+v", e)
	}
}

// testJoinIdempotent: a live session is returned as is; an ended one is not.
func testJoinIdempotent(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	joinN(t, st, ev, 3, now)
	first, pl := join(t, st, ev, "alice", now)
	rec := Subscribe(t, st, ev)
	before := stats(t, st, ev)

	// Again, later, with a fresh session id: the same session and place.
	again, pl2, created, err := st.Join(t.Context(), joinParams(ev, "alice", now.Add(5e9)))
	if err != nil || created {
		t.Fatalf("second join: created=%v err=%v", created, err)
	}
	if !sameSession(again, first) || pl2 != pl {
		t.Fatalf("second join returned %+v %+v, want %+v %+v", again, pl2, first, pl)
	}
	if after := stats(t, st, ev); after != before {
		t.Fatalf("an idempotent join changed the stats: %+v -> %+v", before, after)
	}

	// Ready is live too: joining returns the admitted session.
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 4, CheckoutWindow: window})
	admitted := admit(t, st, ev, now, 4) // u0, u1, u2, alice
	if len(admitted) != 4 || admitted[3].ID != first.ID {
		t.Fatalf("admitted %v, want alice (%s) fourth", ids(admitted), first.ID)
	}
	ready, rpl, created, err := st.Join(t.Context(), joinParams(ev, "alice", now))
	if err != nil || created || ready.ID != first.ID || ready.Status != queue.StatusReady || rpl.Position != 0 {
		t.Fatalf("join while ready: %+v %+v created=%v err=%v", ready, rpl, created, err)
	}

	// The first change after the idempotent joins is the admission: no
	// change was announced for them.
	cs := rec.upTo(t, before.Seq+1)
	if cs[0].Seq != before.Seq+1 || cs[0].Kind != queue.ChangeAdmitted {
		t.Fatalf("changes after idempotent joins: %s", formatChanges(cs))
	}

	// Once the session ends the user may join again: a new session and ticket.
	if _, err := st.Complete(t.Context(), first.ID, now); err != nil {
		t.Fatal(err)
	}
	third, tpl := join(t, st, ev, "alice", now)
	if third.ID == first.ID || third.Ticket != 5 || tpl.Position != 1 {
		t.Fatalf("join after completing: %+v %+v, want a new session with ticket 5 at position 1", third, tpl)
	}
	if _, err := st.Leave(t.Context(), third.ID, now); err != nil {
		t.Fatal(err)
	}
	fourth, fpl := join(t, st, ev, "alice", now)
	if fourth.ID == third.ID || fourth.Ticket != 6 || fpl.Position != 1 || fpl.QueueLength != 1 {
		t.Fatalf("join after leaving: %+v %+v, want a new session with ticket 6", fourth, fpl)
	}
	// The old sessions keep their ended statuses.
	if s, _ := session(t, st, first.ID); s.Status != queue.StatusCompleted {
		t.Fatalf("first session is %v after the user joined again", s.Status)
	}
	if s, _ := session(t, st, third.ID); s.Status != queue.StatusLeft {
		t.Fatalf("third session is %v after the user joined again", s.Status)
	}
}

// testJoinClosedEvent: a closed event refuses joins; a paused one takes them.
func testJoinClosedEvent(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	e := defaultEvent(ev)
	e.State = queue.EventClosed
	putEvent(t, st, e)
	if _, _, _, err := st.Join(t.Context(), joinParams(ev, "u", now)); !errors.Is(err, queue.ErrEventClosed) {
		t.Fatalf("Join on a closed event: err = %v, want ErrEventClosed", err)
	}
	if s := stats(t, st, ev); s != (queue.EventStats{}) {
		t.Fatalf("a refused join changed the stats: %+v", s)
	}
	e.State = queue.EventPaused
	putEvent(t, st, e)
	s, pl := join(t, st, ev, "u", now)
	if s.Ticket != 1 || pl.Position != 1 {
		t.Fatalf("join on a paused event: %+v %+v", s, pl)
	}
	// A user already queued when the event closes still gets their session.
	e.State = queue.EventClosed
	putEvent(t, st, e)
	if again, _, created, err := st.Join(t.Context(), joinParams(ev, "u", now)); err == nil && (created || again.ID != s.ID) {
		t.Fatalf("join of a queued user after closing: %+v created=%v", again, created)
	}
}

// testSessionNotFound: unknown ids, in known and unknown events.
func testSessionNotFound(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	join(t, st, ev, "u", now)
	for _, id := range []string{queue.NewSessionID(ev), queue.NewSessionID(newEventID())} {
		if _, _, err := st.Session(t.Context(), id); !errors.Is(err, queue.ErrSessionNotFound) {
			t.Fatalf("Session(unknown): err = %v, want ErrSessionNotFound", err)
		}
		if _, err := st.Leave(t.Context(), id, now); !errors.Is(err, queue.ErrSessionNotFound) {
			t.Fatalf("Leave(unknown): err = %v, want ErrSessionNotFound", err)
		}
		if _, err := st.Complete(t.Context(), id, now); !errors.Is(err, queue.ErrSessionNotFound) {
			t.Fatalf("Complete(unknown): err = %v, want ErrSessionNotFound", err)
		}
	}
	if s := stats(t, st, ev); s.Seq != 1 {
		t.Fatalf("failed calls changed the seq: %+v", s)
	}
}

// testLeave: the others move up; a second Leave is refused and announces
// nothing.
func testLeave(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	ss := joinN(t, st, ev, 5, now)
	rec := Subscribe(t, st, ev)
	later := now.Add(3e9)
	left, err := st.Leave(t.Context(), ss[1].ID, later)
	if err != nil {
		t.Fatal(err)
	}
	if left.Status != queue.StatusLeft || !left.EndedAt.Equal(later) || left.Ticket != 2 {
		t.Fatalf("Leave returned %+v", left)
	}
	if s, pl := session(t, st, ss[1].ID); s.Status != queue.StatusLeft || pl.Position != 0 || !s.EndedAt.Equal(later) {
		t.Fatalf("left session reads %+v %+v", s, pl)
	}
	for i, want := range []int64{1, 0, 2, 3, 4} {
		if _, pl := session(t, st, ss[i].ID); pl.Position != want || pl.QueueLength != 4 {
			t.Fatalf("session %d after a leave: %+v, want position %d of 4", i, pl, want)
		}
	}
	_, err = st.Leave(t.Context(), ss[1].ID, later)
	wantStatusError(t, "second Leave", err, queue.ErrNotQueued, queue.StatusLeft)

	// Leave of an admitted session is refused too.
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: window})
	adm := admit(t, st, ev, later, 1)
	if len(adm) != 1 || adm[0].ID != ss[0].ID {
		t.Fatalf("admitted %v, want %s", ids(adm), ss[0].ID)
	}
	_, err = st.Leave(t.Context(), ss[0].ID, later)
	wantStatusError(t, "Leave of an admitted session", err, queue.ErrNotQueued, queue.StatusReady)

	cs := rec.upTo(t, 7)
	if len(cs) != 2 {
		t.Fatalf("want 2 changes (leave, admit), got: %s", formatChanges(cs))
	}
	checkChange(t, ev, cs[0], wantChange{kind: queue.ChangeLeft, sessions: changedAs(queue.StatusLeft, ss[1]), length: 4, at: later})
	checkChange(t, ev, cs[1], wantChange{kind: queue.ChangeAdmitted, sessions: changedAs(queue.StatusReady, ss[0]),
		length: 3, at: later, deadline: later.Add(window)})
	checkPlaces(t, st, ev, ids(ss))
}

// testComplete: only an admitted session completes, once, freeing its slot.
func testComplete(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: window})
	ss := joinN(t, st, ev, 3, now)
	_, err := st.Complete(t.Context(), ss[0].ID, now)
	wantStatusError(t, "Complete of a queued session", err, queue.ErrNotAdmitted, queue.StatusQueued)

	if adm := admit(t, st, ev, now, 10); len(adm) != 1 || adm[0].ID != ss[0].ID {
		t.Fatalf("admitted %v with one slot, want %s", ids(adm), ss[0].ID)
	}
	if adm := admit(t, st, ev, now, 10); len(adm) != 0 {
		t.Fatalf("admitted %v with no free slot", ids(adm))
	}
	done := now.Add(2e9)
	c, err := st.Complete(t.Context(), ss[0].ID, done)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != queue.StatusCompleted || !c.EndedAt.Equal(done) || !c.AdmittedAt.Equal(now) {
		t.Fatalf("Complete returned %+v", c)
	}
	if s := stats(t, st, ev); s.Processing != 0 || s.QueueLength != 2 {
		t.Fatalf("stats after Complete: %+v", s)
	}
	seq := stats(t, st, ev).Seq
	_, err = st.Complete(t.Context(), ss[0].ID, done)
	wantStatusError(t, "second Complete", err, queue.ErrNotAdmitted, queue.StatusCompleted)
	if s := stats(t, st, ev); s.Seq != seq {
		t.Fatalf("a refused Complete bumped the seq: %d -> %d", seq, s.Seq)
	}
	// The freed slot goes to the next in line.
	if adm := admit(t, st, ev, done, 10); len(adm) != 1 || adm[0].ID != ss[1].ID {
		t.Fatalf("after Complete admitted %v, want %s", ids(adm), ss[1].ID)
	}
	if s, _ := session(t, st, ss[0].ID); s.Status != queue.StatusCompleted {
		t.Fatalf("completed session reads %v", s.Status)
	}
	checkPlaces(t, st, ev, ids(ss))
}

// testCompleteLate: the checkout window closes at the deadline whether or
// not Expire has run. Completing at the deadline is refused as expired and
// changes nothing: the session stays Ready, holding its slot, until Expire
// ends it. The last millisecond before the deadline still completes.
func testCompleteLate(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: window})
	ss := joinN(t, st, ev, 3, now)
	if adm := admit(t, st, ev, now, 2); len(adm) != 2 {
		t.Fatalf("admitted %v, want 2", ids(adm))
	}
	deadline := now.Add(window)
	ready, _ := session(t, st, ss[0].ID)
	rec := Subscribe(t, st, ev)
	before := stats(t, st, ev)

	for _, at := range []time.Time{deadline, deadline.Add(time.Second)} {
		_, err := st.Complete(t.Context(), ss[0].ID, at)
		wantStatusError(t, fmt.Sprintf("Complete %v after the deadline", at.Sub(deadline)), err, queue.ErrNotAdmitted, queue.StatusExpired)
		if got, _ := session(t, st, ss[0].ID); !sameSession(got, ready) {
			t.Fatalf("a refused late Complete changed the session: %+v -> %+v", ready, got)
		}
		if s := stats(t, st, ev); s != before {
			t.Fatalf("a refused late Complete changed the stats: %+v -> %+v", before, s)
		}
	}

	done := deadline.Add(-time.Millisecond)
	c, err := st.Complete(t.Context(), ss[1].ID, done)
	if err != nil {
		t.Fatalf("Complete just before the deadline: %v", err)
	}
	if c.Status != queue.StatusCompleted || !c.EndedAt.Equal(done) {
		t.Fatalf("Complete just before the deadline returned %+v", c)
	}
	// The first change after the refusals is this completion: they
	// announced nothing.
	cs := rec.upTo(t, before.Seq+1)
	if len(cs) != 1 {
		t.Fatalf("refused late Completes announced changes: %s", formatChanges(cs))
	}
	checkChange(t, ev, cs[0], wantChange{kind: queue.ChangeCompleted, sessions: changedAs(queue.StatusCompleted, ss[1]), length: 1, at: done})

	// Expire still finds the late session where it was, and ends it.
	if exp := expire(t, st, ev, deadline, 10); len(exp) != 1 || exp[0].ID != ss[0].ID {
		t.Fatalf("Expire at the deadline = %v, want %s", ids(exp), ss[0].ID)
	}
	if s := stats(t, st, ev); s.Processing != 0 || s.Seq != before.Seq+2 {
		t.Fatalf("stats after the expiry: %+v", s)
	}
	_, err = st.Complete(t.Context(), ss[0].ID, deadline)
	wantStatusError(t, "Complete after Expire", err, queue.ErrNotAdmitted, queue.StatusExpired)
	checkPlaces(t, st, ev, ids(ss))
}

func testPing(t *testing.T, newStore func(*testing.T) queue.Store) {
	if err := newStore(t).Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testJoinRefusesBadIDs: a session id that is not the event's, or a user id
// out of bounds, is refused before anything changes: no event registered,
// no session stored.
func testJoinRefusesBadIDs(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	foreign := joinParams(ev, "u", now)
	foreign.SessionID = queue.NewSessionID(newEventID())
	long := joinParams(ev, strings.Repeat("u", queue.MaxUserIDLen+1), now)
	empty := joinParams(ev, "", now)
	for _, p := range []queue.JoinParams{foreign, long, empty} {
		var invalid *queue.InvalidArgumentError
		if _, _, _, err := st.Join(t.Context(), p); !errors.As(err, &invalid) {
			t.Fatalf("Join(session %q, user of %d bytes): err = %v, want InvalidArgumentError", p.SessionID, len(p.UserID), err)
		}
		if _, _, err := st.Session(t.Context(), p.SessionID); !errors.Is(err, queue.ErrSessionNotFound) {
			t.Fatalf("a refused join stored its session: %v", err)
		}
	}
	evs, err := st.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.ID == ev {
			t.Fatalf("a refused join registered event %s", ev)
		}
	}
}
