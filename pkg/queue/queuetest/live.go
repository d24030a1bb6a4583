package queuetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// idleFor is the suite's Store.ForgetIdle grace; ttl (the sessions' time to
// stay readable once ended) is longer, so both must pass before an event
// with ended sessions is forgotten.
const idleFor = time.Minute

// longAfter is a moment by which every idle event of the suite is due.
func longAfter(now time.Time) time.Time { return now.Add(3 * ttl) }

func liveIDs(t *testing.T, st queue.Store) []string {
	t.Helper()
	evs, err := st.LiveEvents(t.Context())
	if err != nil {
		t.Fatalf("LiveEvents: %v", err)
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("LiveEvents not ordered by id: %v", ids)
	}
	return ids
}

func wantLive(t *testing.T, st queue.Store, ev string, want bool) {
	t.Helper()
	if got := slices.Contains(liveIDs(t, st), ev); got != want {
		t.Fatalf("LiveEvents lists %s: %v, want %v", ev, got, want)
	}
}

// settle relays ev's outbox, if the store keeps one, and runs Expire, as a
// relay and a processor pass would: an event with nothing live left is then
// idle.
func settle(t *testing.T, st queue.Store, ev string, now time.Time) {
	t.Helper()
	if ob, ok := st.(queue.Outbox); ok {
		for {
			es := claim(t, ob, ev, "queuetest-relay", 1000, time.Minute)
			if len(es) == 0 {
				break
			}
			ack(t, ob, ev, es...)
		}
	}
	expire(t, st, ev, now, 10)
}

// forgetAll calls ForgetIdle until it forgets nothing more (other subtests'
// idle events may be due too) and reports whether ev was forgotten.
func forgetAll(t *testing.T, st queue.Store, ev string, now time.Time) bool {
	t.Helper()
	for {
		n, err := st.ForgetIdle(t.Context(), now, idleFor, 1000)
		if err != nil {
			t.Fatalf("ForgetIdle: %v", err)
		}
		if n < 1000 {
			break
		}
	}
	_, _, err := st.Event(t.Context(), ev)
	if err != nil && !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("Event(%s): %v", ev, err)
	}
	return err != nil
}

// testLiveEvents: an event is listed while it has a queued or an admitted
// session, with its settings, and not once they ended and Expire ran; an
// event with no sessions is not listed.
func testLiveEvents(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	now := epoch()
	ev, op := newEventID(), newEventID()
	putEvent(t, st, defaultEvent(op))
	wantLive(t, st, op, false)

	a, _ := join(t, st, ev, "a", now)
	b, _ := join(t, st, op, "b", now)
	wantLive(t, st, ev, true)
	wantLive(t, st, op, true)
	evs, _ := st.LiveEvents(t.Context())
	for _, e := range evs {
		if e.ID == ev && !sameEvent(e, defaultEvent(ev)) {
			t.Fatalf("LiveEvents gives %+v, want the settings %+v", e, defaultEvent(ev))
		}
	}
	if got := admit(t, st, ev, now, 1); len(got) != 1 {
		t.Fatalf("admitted %d, want 1", len(got))
	}
	expire(t, st, ev, now, 10)
	wantLive(t, st, ev, true) // a ready session is live

	if _, err := st.Complete(t.Context(), a.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Leave(t.Context(), b.ID, now); err != nil {
		t.Fatal(err)
	}
	settle(t, st, ev, now)
	settle(t, st, op, now)
	wantLive(t, st, ev, false)
	wantLive(t, st, op, false)

	join(t, st, op, "c", now)
	wantLive(t, st, op, true)
}

// testForgetIdle: an event a join registered is forgotten once it has been
// idle for idleFor and its ended sessions' time to stay readable has passed,
// not before; joined again, it numbers its changes after every seq it used.
func testForgetIdle(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	now := epoch()
	ev := newEventID()
	a, _ := join(t, st, ev, "a", now)
	if _, err := st.Leave(t.Context(), a.ID, now); err != nil {
		t.Fatal(err)
	}
	settle(t, st, ev, now)
	last := stats(t, st, ev).Seq
	if forgetAll(t, st, ev, now.Add(idleFor-time.Millisecond)) {
		t.Fatalf("forgotten before idle for %v", idleFor)
	}
	if s, _ := session(t, st, a.ID); s.Status != queue.StatusLeft {
		t.Fatalf("ended session %v while its event waits to be forgotten", s.Status)
	}
	later := longAfter(now)
	if !forgetAll(t, st, ev, later) {
		t.Fatalf("idle event still known at %v", later.Sub(now))
	}
	all, err := st.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(all, func(e queue.Event) bool { return e.ID == ev }) {
		t.Fatal("a forgotten event is still in Events")
	}
	wantLive(t, st, ev, false)

	rec := Subscribe(t, st, ev)
	b, pl := join(t, st, ev, "b", later)
	if pl.Seq <= last {
		t.Fatalf("joined again after being forgotten: seq %d, the event had used up to %d", pl.Seq, last)
	}
	if c := rec.WaitSession(t, b.ID); c.Seq != pl.Seq {
		t.Fatalf("announced seq %d, place says %d", c.Seq, pl.Seq)
	}
	if s := stats(t, st, ev); s.QueueLength != 1 || s.Seq != pl.Seq {
		t.Fatalf("re-created event: %+v", s)
	}
	wantLive(t, st, ev, true)
}

// testLiveNeverForgotten: an event with a queued or an admitted session is
// never forgotten, however long ago it was registered.
func testLiveNeverForgotten(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	now := epoch()
	queued, ready := newEventID(), newEventID()
	q, _ := join(t, st, queued, "q", now)
	r, _ := join(t, st, ready, "r", now)
	admit(t, st, ready, now, 1)
	if forgetAll(t, st, queued, longAfter(now)) || forgetAll(t, st, ready, longAfter(now)) {
		t.Fatal("an event with a live session was forgotten")
	}
	if s, _ := session(t, st, q.ID); s.Status != queue.StatusQueued {
		t.Fatalf("queued session now %v", s.Status)
	}
	if s, _ := session(t, st, r.ID); s.Status != queue.StatusReady {
		t.Fatalf("ready session now %v", s.Status)
	}
	wantLive(t, st, queued, true)
	wantLive(t, st, ready, true)
}

// testOperatorEventsKept: an event written by PutEvent, before its first
// join or after, is never forgotten.
func testOperatorEventsKept(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	now := epoch()
	before, after := newEventID(), newEventID()
	putEvent(t, st, defaultEvent(before))
	for _, ev := range []string{before, after} {
		s, _ := join(t, st, ev, "u", now)
		if _, err := st.Leave(t.Context(), s.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	putEvent(t, st, defaultEvent(after))
	for _, ev := range []string{before, after} {
		settle(t, st, ev, now)
		if forgetAll(t, st, ev, longAfter(now)) {
			t.Fatalf("event %s, written by PutEvent, was forgotten", ev)
		}
	}
}

// testLiveListRace: joins, leaves and Expire calls (which take idle events
// off the list) race on two handles; once they stop, every event with a
// queued session is listed, and after one more Expire only those are.
func testLiveListRace(t *testing.T, newStore func(*testing.T) queue.Store) {
	stores := []queue.Store{newStore(t), newStore(t)}
	now := epoch()
	events := make([]string, 4)
	for i := range events {
		events[i] = newEventID()
	}
	const workers, rounds = 4, 40
	var wg sync.WaitGroup
	done := make(chan struct{})
	var pass sync.WaitGroup
	for i := range 2 {
		pass.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, ev := range events {
					if _, err := stores[i].Expire(t.Context(), ev, now, 10); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	for w := range workers {
		wg.Go(func() {
			st := stores[w%2]
			for r := range rounds {
				ev := events[(w+r)%len(events)]
				s, _, _, err := st.Join(t.Context(), joinParams(ev, fmt.Sprint("w", w, "r", r), now))
				if err != nil {
					t.Error(err)
					return
				}
				// Some sessions of the first two events stay; the other
				// two events end idle.
				if (ev == events[0] || ev == events[1]) && r%5 == 0 {
					continue
				}
				if _, err := st.Leave(t.Context(), s.ID, now); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	pass.Wait()
	for _, ev := range events {
		busy := stats(t, stores[0], ev).QueueLength > 0
		if busy {
			wantLive(t, stores[1], ev, true)
		}
		settle(t, stores[1], ev, now)
		wantLive(t, stores[0], ev, busy)
	}
}

// testOutboxKeepsEventLive: an event whose sessions have all ended stays
// listed, and is not forgotten, while its outbox holds entries; once they
// are acknowledged it goes idle like any other.
func testOutboxKeepsEventLive(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ob := outboxOf(t, st)
	now := epoch()
	ev := newEventID()
	s, _ := join(t, st, ev, "u", now)
	if _, err := st.Leave(t.Context(), s.ID, now); err != nil {
		t.Fatal(err)
	}
	expire(t, st, ev, now, 10)
	wantLive(t, st, ev, true)
	if forgetAll(t, st, ev, longAfter(now)) {
		t.Fatal("an event with outbox entries was forgotten")
	}
	wantLive(t, st, ev, true)
	es := claim(t, ob, ev, "relay", 10, time.Minute)
	wantSeqs(t, "the backlog", es, 1, 2)
	ack(t, ob, ev, es...)
	expire(t, st, ev, now, 10)
	wantLive(t, st, ev, false)
	if !forgetAll(t, st, ev, longAfter(now)) {
		t.Fatal("an idle event with its outbox relayed was not forgotten")
	}
}
