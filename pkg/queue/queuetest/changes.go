package queuetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// testChanges: one change per state change, numbered 1, 2, 3, … with the
// right kind, sessions, queue length and times.
func testChanges(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: window})
	rec := Subscribe(t, st, ev) // before the first change, so it sees seq 1
	other := Subscribe(t, st, newEventID())

	tick := func(n int) time.Time { return now.Add(time.Duration(n) * time.Second) }
	a, _ := join(t, st, ev, "a", tick(1))
	b, _ := join(t, st, ev, "b", tick(2))
	c, _ := join(t, st, ev, "c", tick(3))
	d, _ := join(t, st, ev, "d", tick(4))
	if _, err := st.Leave(t.Context(), b.ID, tick(5)); err != nil {
		t.Fatal(err)
	}
	adm := admit(t, st, ev, tick(6), 10) // a, c
	if _, err := st.Complete(t.Context(), a.ID, tick(7)); err != nil {
		t.Fatal(err)
	}
	exp := expire(t, st, ev, tick(8).Add(window), 10) // c's checkout window ran out
	if len(adm) != 2 || len(exp) != 1 || exp[0].ID != c.ID {
		t.Fatalf("admitted %v, expired %v", ids(adm), ids(exp))
	}

	cs := rec.upTo(t, 8)
	if len(cs) != 8 || cs[0].Seq != 1 {
		t.Fatalf("want changes 1..8, got: %s", formatChanges(cs))
	}
	wants := []wantChange{
		{kind: queue.ChangeJoined, sessions: changedAs(queue.StatusQueued, a), length: 1, at: tick(1)},
		{kind: queue.ChangeJoined, sessions: changedAs(queue.StatusQueued, b), length: 2, at: tick(2)},
		{kind: queue.ChangeJoined, sessions: changedAs(queue.StatusQueued, c), length: 3, at: tick(3)},
		{kind: queue.ChangeJoined, sessions: changedAs(queue.StatusQueued, d), length: 4, at: tick(4)},
		{kind: queue.ChangeLeft, sessions: changedAs(queue.StatusLeft, b), length: 3, at: tick(5)},
		{kind: queue.ChangeAdmitted, sessions: changedAs(queue.StatusReady, a, c), length: 1, at: tick(6), deadline: tick(6).Add(window)},
		{kind: queue.ChangeCompleted, sessions: changedAs(queue.StatusCompleted, a), length: 1, at: tick(7)},
		{kind: queue.ChangeExpired, sessions: changedAs(queue.StatusExpired, c), length: 1, at: tick(8).Add(window)},
	}
	for i, w := range wants {
		checkChange(t, ev, cs[i], w)
	}
	// A replica rebuilding the queue from the changes alone gets the truth.
	snap, err := st.Snapshot(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := replay(cs); !slices.Equal(got, snap.Tickets) || snap.Seq != 8 {
		t.Fatalf("replayed waiting set %v, snapshot %v at seq %d", got, snap.Tickets, snap.Seq)
	}
	rec.mu.Lock()
	subs := rec.subscribed
	rec.mu.Unlock()
	if subs < 1 {
		t.Fatalf("Subscribed was called %d times", subs)
	}
	// The other event's subscriber heard nothing: prove it with a change of
	// its own.
	join(t, st, eventOf(other, t), "z", now)
	if oc := other.upTo(t, 1); len(oc) != 1 || oc[0].EventID == ev {
		t.Fatalf("the other event's subscriber got: %s", formatChanges(oc))
	}
}

// eventOf is the event a Recorder subscribed to, remembered by Subscribe.
func eventOf(r *Recorder, t *testing.T) string {
	t.Helper()
	if r.eventID == "" {
		t.Fatal("Recorder has no event")
	}
	return r.eventID
}

// testNoOps: calls that change nothing announce nothing and keep the seq.
func testNoOps(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: window})
	ss := joinN(t, st, ev, 3, now)
	if _, err := st.Leave(t.Context(), ss[2].ID, now); err != nil {
		t.Fatal(err)
	}
	admit(t, st, ev, now, 1) // ss[0] holds the only slot
	rec := Subscribe(t, st, ev)
	before := stats(t, st, ev) // seq 5

	noops := []struct {
		name string
		fn   func() error
	}{
		{"idempotent Join", func() error {
			_, _, created, err := st.Join(t.Context(), joinParams(ev, "u1", now))
			if err == nil && created {
				return errors.New("created a second session")
			}
			return err
		}},
		{"Leave of a left session", func() error { _, err := st.Leave(t.Context(), ss[2].ID, now); return ignore(err, queue.ErrNotQueued) }},
		{"Leave of a ready session", func() error { _, err := st.Leave(t.Context(), ss[0].ID, now); return ignore(err, queue.ErrNotQueued) }},
		{"Complete of a queued session", func() error {
			_, err := st.Complete(t.Context(), ss[1].ID, now)
			return ignore(err, queue.ErrNotAdmitted)
		}},
		{"Complete past the checkout deadline", func() error {
			_, err := st.Complete(t.Context(), ss[0].ID, now.Add(window))
			return ignore(err, queue.ErrNotAdmitted)
		}},
		{"Complete of an unknown session", func() error {
			_, err := st.Complete(t.Context(), queue.NewSessionID(ev), now)
			return ignore(err, queue.ErrSessionNotFound)
		}},
		{"Admit at capacity", func() error { return none(st.Admit(t.Context(), ev, now, 10)) }},
		{"Expire with nothing due", func() error { return none(st.Expire(t.Context(), ev, now.Add(time.Minute), 10)) }},
		{"PutEvent", func() error {
			_, err := st.PutEvent(t.Context(), queue.Event{ID: ev, State: queue.EventPaused, MaxConcurrent: 5, CheckoutWindow: window})
			return err
		}},
		{"Admit while paused", func() error { return none(st.Admit(t.Context(), ev, now, 10)) }},
		{"Snapshot", func() error { _, err := st.Snapshot(t.Context(), ev); return err }},
	}
	for _, op := range noops {
		if err := op.fn(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if s := stats(t, st, ev); s.Seq != before.Seq || s.QueueLength != before.QueueLength || s.Processing != before.Processing {
			t.Fatalf("%s changed the stats: %+v -> %+v", op.name, before, s)
		}
	}
	// The next real change is numbered right after the last one, and is the
	// first the subscriber hears of.
	late, _ := join(t, st, ev, "late", now)
	cs := rec.upTo(t, before.Seq+1)
	if len(cs) != 1 {
		t.Fatalf("no-ops announced changes: %s", formatChanges(cs))
	}
	checkChange(t, ev, cs[0], wantChange{kind: queue.ChangeJoined, sessions: changedAs(queue.StatusQueued, late), length: 2, at: now})
}

func ignore(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	if err == nil {
		return errors.New("succeeded")
	}
	return err
}

func none(ss []queue.Session, err error) error {
	if err == nil && len(ss) > 0 {
		return errors.New("changed sessions")
	}
	return err
}

// testSnapshot: the waiting tickets, ascending, at the current seq.
func testSnapshot(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	if snap, err := st.Snapshot(t.Context(), ev); err != nil || len(snap.Tickets) != 0 || snap.Seq != 0 {
		t.Fatalf("Snapshot of an unknown event = %+v, %v; want empty at seq 0", snap, err)
	}
	putEvent(t, st, queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 3, CheckoutWindow: window})
	ss := joinN(t, st, ev, 20, now)
	for _, i := range []int{4, 9, 10, 19} {
		if _, err := st.Leave(t.Context(), ss[i].ID, now); err != nil {
			t.Fatal(err)
		}
	}
	admit(t, st, ev, now, 10) // tickets 1, 2, 3
	snap, err := st.Snapshot(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{4, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19}
	if !slices.Equal(snap.Tickets, want) || snap.Seq != 25 {
		t.Fatalf("Snapshot = %v at seq %d, want %v at seq 25", snap.Tickets, snap.Seq, want)
	}
	checkPlaces(t, st, ev, ids(ss))
}

// testEvents: PutEvent, Event and Events round trip.
func testEvents(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	prefix := newEventID()
	evs := []queue.Event{
		{ID: prefix + "-b", State: queue.EventPaused, MaxConcurrent: 7, CheckoutWindow: 90 * time.Second, CheckoutURL: "https://checkout.invalid/b"},
		{ID: prefix + "-a", State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute},
		{ID: prefix + "-c", State: queue.EventClosed, MaxConcurrent: 1000, CheckoutWindow: time.Hour, CheckoutURL: "https://checkout.invalid/c?x=1"},
	}
	for _, e := range evs {
		got, err := st.PutEvent(t.Context(), e)
		if err != nil || !sameEvent(got, e) {
			t.Fatalf("PutEvent(%+v) = %+v, %v", e, got, err)
		}
	}
	// Replace one.
	evs[1].State, evs[1].MaxConcurrent, evs[1].CheckoutURL = queue.EventPaused, 2, "https://checkout.invalid/a"
	if _, err := st.PutEvent(t.Context(), evs[1]); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		got, s, err := st.Event(t.Context(), e.ID)
		if err != nil || !sameEvent(got, e) || s != (queue.EventStats{}) {
			t.Fatalf("Event(%s) = %+v %+v %v, want %+v with zero stats", e.ID, got, s, err, e)
		}
	}
	if _, _, err := st.Event(t.Context(), prefix+"-none"); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("Event(unknown): err = %v, want ErrEventNotFound", err)
	}
	all, err := st.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(all, func(a, b queue.Event) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	}) {
		t.Fatalf("Events are not ordered by id: %v", all)
	}
	var mine []queue.Event
	for _, e := range all {
		if len(e.ID) > len(prefix) && e.ID[:len(prefix)] == prefix {
			mine = append(mine, e)
		}
	}
	want := []queue.Event{evs[1], evs[0], evs[2]}
	if !slices.EqualFunc(mine, want, sameEvent) {
		t.Fatalf("Events has %v of ours, want %v", mine, want)
	}
}
