package queuetest

import (
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The presence-aware admission contract (queue.PresenceStore).

const (
	grace = 2 * time.Minute
	hold  = 15 * time.Minute
	// longWindow outlasts hold, so that checkouts do not expire in tests of holds.
	longWindow = 2 * hold
	// joinGrace is how long a join keeps a session present in the suite's
	// AdmitPresent calls: a few milliseconds, so that the tests' admissions
	// (a second or more after the joins) see joiners absent unless marked.
	joinGrace = 5 * time.Millisecond
)

func admitPresent(t *testing.T, st queue.Store, eventID string, now time.Time, limit int) []queue.Session {
	t.Helper()
	out, err := st.AdmitPresent(t.Context(), eventID, now, limit, queue.PresenceRule{Grace: joinGrace, Hold: hold})
	if err != nil {
		t.Fatalf("AdmitPresent(%s): %v", eventID, err)
	}
	return out
}

func markPresent(t *testing.T, st queue.Store, eventID string, until time.Time, ss ...queue.Session) {
	t.Helper()
	if err := st.MarkPresent(t.Context(), eventID, ids(ss), until); err != nil {
		t.Fatalf("MarkPresent: %v", err)
	}
}

// checkHeld checks each session's HeldUntil (zero: not held) and position.
func checkHeld(t *testing.T, st queue.Store, want map[queue.Session]time.Time) {
	t.Helper()
	for s, until := range want {
		got, _ := session(t, st, s.ID)
		if !got.HeldUntil.Equal(until) || got.Held() != !until.IsZero() {
			t.Fatalf("session %d: HeldUntil = %v (held %v), want %v", s.Ticket, got.HeldUntil, got.Held(), until)
		}
	}
}

// testPresenceSkipsAbsentHead: absent heads are passed over and held; they
// keep their places, and holding announces nothing.
func testPresenceSkipsAbsentHead(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: window})
	ss := joinN(t, st, ev, 5, now) // seq 1..5
	rec := Subscribe(t, st, ev)
	markPresent(t, st, ev, now.Add(grace), ss[1], ss[3])

	at := now.Add(time.Minute)
	got := admitPresent(t, st, ev, at, 10)
	if !slices.Equal(ids(got), ids([]queue.Session{ss[1], ss[3]})) {
		t.Fatalf("AdmitPresent = %v, want the present sessions 2 and 4", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[0]: at.Add(hold), ss[2]: at.Add(hold), ss[4]: {}})
	// Held places still count: positions stay 1..n in ticket order.
	checkPlaces(t, st, ev, ids(ss))
	if _, pl := session(t, st, ss[2].ID); pl.Position != 2 || pl.QueueLength != 3 {
		t.Fatalf("held session 3 stands at %+v, want 2 of 3", pl)
	}
	cs := rec.upTo(t, 6)
	checkChange(t, ev, cs[len(cs)-1], wantChange{kind: queue.ChangeAdmitted,
		sessions: changedAs(queue.StatusReady, ss[1], ss[3]), length: 3, at: at, deadline: at.Add(window)})
	// Holding alone announces nothing: the next change is seq 7.
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 3, CheckoutWindow: window})
	if got := admitPresent(t, st, ev, at, 10); len(got) != 0 {
		t.Fatalf("nobody present, yet AdmitPresent admitted %v", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[4]: at.Add(hold)})
	if _, err := st.Leave(t.Context(), ss[4].ID, at); err != nil {
		t.Fatal(err)
	}
	if cs := rec.upTo(t, 7); cs[len(cs)-1].Kind != queue.ChangeLeft {
		t.Fatalf("want the leave as change 7, got: %s", formatChanges(cs))
	}
}

// testPresenceHeldComeBackFirst: a held session that is present again is
// admitted before present sessions behind it, and is no longer held.
func testPresenceHeldComeBackFirst(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: longWindow})
	ss := joinN(t, st, ev, 3, now)
	markPresent(t, st, ev, now.Add(grace), ss[1], ss[2])
	at := now.Add(time.Second)
	if got := admitPresent(t, st, ev, at, 10); !slices.Equal(ids(got), ids(ss[1:2])) {
		t.Fatalf("AdmitPresent = %v, want session 2", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[0]: at.Add(hold), ss[2]: {}})
	late, _ := join(t, st, ev, "late", at)
	markPresent(t, st, ev, at.Add(grace), late, ss[0])
	if _, err := st.Complete(t.Context(), ss[1].ID, at); err != nil {
		t.Fatal(err)
	}
	again := at.Add(time.Second)
	got := admitPresent(t, st, ev, again, 10)
	if !slices.Equal(ids(got), ids(ss[:1])) {
		t.Fatalf("AdmitPresent = %v, want the held session 1 back first", ids(got))
	}
	if got[0].Status != queue.StatusReady || !got[0].HeldUntil.IsZero() || !got[0].AdmittedAt.Equal(again) {
		t.Fatalf("the held session, admitted, is %+v", got[0])
	}
	// It never expires as absent now.
	if got := expire(t, st, ev, at.Add(hold), 10); len(got) != 0 {
		t.Fatalf("Expire at the old HeldUntil ended %v", ids(got))
	}
	checkPlaces(t, st, ev, append(ids(ss), late.ID))
}

// testPresenceHeldExpire: a held session that does not come back expires at
// its HeldUntil, said to be absent; one that left is not expired again.
func testPresenceHeldExpire(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: longWindow})
	ss := joinN(t, st, ev, 4, now) // seq 1..4
	markPresent(t, st, ev, now.Add(grace), ss[2])
	at := now.Add(time.Second)
	if got := admitPresent(t, st, ev, at, 10); !slices.Equal(ids(got), ids(ss[2:3])) { // seq 5
		t.Fatalf("AdmitPresent = %v, want session 3", ids(got))
	}
	if _, err := st.Leave(t.Context(), ss[1].ID, at); err != nil { // seq 6
		t.Fatal(err)
	}
	rec := Subscribe(t, st, ev)
	if got := expire(t, st, ev, at.Add(hold-time.Millisecond), 10); len(got) != 0 {
		t.Fatalf("Expire before HeldUntil ended %v", ids(got))
	}
	end := at.Add(hold)
	got := expire(t, st, ev, end, 10)
	if !slices.Equal(ids(got), ids(ss[:1])) {
		t.Fatalf("Expire at HeldUntil = %v, want the held session 1", ids(got))
	}
	if r, pl := session(t, st, ss[0].ID); r.Status != queue.StatusExpired || !r.EndedAt.Equal(end) || r.Held() || pl.Position != 0 {
		t.Fatalf("the expired held session reads %+v %+v", r, pl)
	}
	cs := rec.upTo(t, 7)
	s := changedAs(queue.StatusExpired, ss[0])
	s[0].Reason = queue.ExpiredAbsent
	checkChange(t, ev, cs[len(cs)-1], wantChange{kind: queue.ChangeExpired, sessions: s, length: 1, at: end})
	if _, pl := session(t, st, ss[3].ID); pl.Position != 1 || pl.QueueLength != 1 {
		t.Fatalf("the last session stands at %+v, want 1 of 1", pl)
	}
	checkPlaces(t, st, ev, ids(ss))
}

// testPresenceWalkBounded: one call passes over at most limit absent
// sessions; later calls go on from there.
func testPresenceWalkBounded(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: window})
	ss := joinN(t, st, ev, 8, now)
	markPresent(t, st, ev, now.Add(grace), ss[7])
	at := now.Add(time.Second)
	for call := range 2 {
		if got := admitPresent(t, st, ev, at, 3); len(got) != 0 {
			t.Fatalf("call %d admitted %v past a run of absent heads", call, ids(got))
		}
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[5]: at.Add(hold), ss[6]: {}})
	if got := admitPresent(t, st, ev, at, 3); !slices.Equal(ids(got), ids(ss[7:])) {
		t.Fatalf("third call = %v, want session 8", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[6]: at.Add(hold)})
	checkPlaces(t, st, ev, ids(ss))
}

// testPresenceMarks: presence ends at its time, is never shortened, and
// marks of ended sessions, other events' and malformed ids are ignored.
func testPresenceMarks(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: window})
	ss := joinN(t, st, ev, 3, now)
	other := newEventID()
	o, _ := join(t, st, other, "o", now)
	markPresent(t, st, ev, now.Add(2*grace), ss[1])
	markPresent(t, st, ev, now.Add(grace), ss[0], ss[1], o)
	if err := st.MarkPresent(t.Context(), ev, []string{"", "nope", ev + "~x"}, now.Add(grace)); err != nil {
		t.Fatalf("MarkPresent with malformed ids: %v", err)
	}
	if err := st.MarkPresent(t.Context(), newEventID(), []string{o.ID}, now.Add(grace)); err != nil {
		t.Fatalf("MarkPresent on an unknown event: %v", err)
	}
	// At now+grace session 1's presence has ended; session 2's has not.
	got := admitPresent(t, st, ev, now.Add(grace), 10)
	if !slices.Equal(ids(got), ids(ss[1:2])) {
		t.Fatalf("AdmitPresent = %v, want session 2 only", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[0]: now.Add(grace + hold), ss[2]: now.Add(grace + hold)})
	if s, _ := session(t, st, o.ID); s.Held() || s.Status != queue.StatusQueued {
		t.Fatalf("the other event's session is %+v", s)
	}
}

// testPresenceOffAdmitsHeld: plain Admit (presence off) admits from the
// head, held or not, and an admitted held session is no longer held.
func testPresenceOffAdmitsHeld(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: longWindow})
	ss := joinN(t, st, ev, 3, now)
	markPresent(t, st, ev, now.Add(grace), ss[1])
	if got, err := st.AdmitPresent(t.Context(), ev, now, 1, queue.PresenceRule{Grace: joinGrace}); err != nil || !slices.Equal(ids(got), ids(ss[:1])) {
		t.Fatalf("AdmitPresent with no hold = %v, %v; want the head, as Admit", ids(got), err)
	}
	if got := admitPresent(t, st, ev, now, 1); !slices.Equal(ids(got), ids(ss[1:2])) {
		t.Fatalf("AdmitPresent = %v, want session 2", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[2]: {}})
	markPresent(t, st, ev, now.Add(grace), ss[2])
	if got := admitPresent(t, st, ev, now.Add(grace), 1); len(got) != 0 {
		t.Fatalf("AdmitPresent admitted %v", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[2]: now.Add(grace + hold)})
	if got := admit(t, st, ev, now.Add(grace), 10); !slices.Equal(ids(got), ids(ss[2:])) || got[0].Held() {
		t.Fatalf("Admit = %+v, want the held session 3, no longer held", got)
	}
	if got := expire(t, st, ev, now.Add(grace+hold), 10); len(got) != 0 {
		t.Fatalf("Expire at the old HeldUntil ended %v", ids(got))
	}
	checkPlaces(t, st, ev, ids(ss))
}

// testExpiryReasons: each expired session's change says why.
func testExpiryReasons(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: window})
	ss := joinN(t, st, ev, 3, now) // seq 1..3
	markPresent(t, st, ev, now.Add(grace), ss[1])
	admitPresent(t, st, ev, now.Add(time.Second), 10) // seq 4: session 2 admitted, 1 held
	rec := Subscribe(t, st, ev)
	at := now.Add(ttl)
	expire(t, st, ev, at, 10) // seq 5: all three, for three reasons
	cs := rec.upTo(t, 5)
	want := changedAs(queue.StatusExpired, ss...)
	want[0].Reason, want[1].Reason, want[2].Reason = queue.ExpiredAbsent, queue.ExpiredCheckoutWindow, queue.ExpiredQueueTTL
	checkChange(t, ev, cs[len(cs)-1], wantChange{kind: queue.ChangeExpired, sessions: want, length: 0, at: at})
}

// testPresenceJoinGrace: a session is present for the grace after it
// joined, without any mark.
func testPresenceJoinGrace(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: window})
	old := joinN(t, st, ev, 1, now)
	fresh, _ := join(t, st, ev, "fresh", now.Add(time.Minute))
	at := now.Add(time.Minute + grace/2)
	got, err := st.AdmitPresent(t.Context(), ev, at, 10, queue.PresenceRule{Grace: grace, Hold: hold})
	if err != nil || !slices.Equal(ids(got), []string{fresh.ID}) {
		t.Fatalf("AdmitPresent = %v, %v; want the session that joined within the grace", ids(got), err)
	}
	checkHeld(t, st, map[queue.Session]time.Time{old[0]: at.Add(hold)})
}

// testPresenceHeldBackNotExpired: a held session that is present when its
// HeldUntil comes (back, waiting for a free slot) keeps its place until its
// presence ends; absent at that time, it expires.
func testPresenceHeldBackNotExpired(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: longWindow})
	ss := joinN(t, st, ev, 2, now)
	markPresent(t, st, ev, now.Add(grace), ss[1])
	at := now.Add(time.Second)
	if got := admitPresent(t, st, ev, at, 10); !slices.Equal(ids(got), ids(ss[1:])) {
		t.Fatalf("AdmitPresent = %v, want session 2", ids(got))
	}
	// Back, but every slot is taken until the checkout window ends.
	back := at.Add(hold - time.Minute)
	markPresent(t, st, ev, back.Add(grace), ss[0])
	if got := expire(t, st, ev, at.Add(hold), 10); len(got) != 0 {
		t.Fatalf("Expire at HeldUntil ended %v, though it is back", ids(got))
	}
	checkHeld(t, st, map[queue.Session]time.Time{ss[0]: back.Add(grace)})
	if got := expire(t, st, ev, back.Add(grace), 10); !slices.Equal(ids(got), ids(ss[:1])) {
		t.Fatalf("Expire once its presence ended = %v, want session 1", ids(got))
	}
}
