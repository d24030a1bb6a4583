package queuetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The admin API's store changes (queue.EventAdminStore) and the admission
// rate.

// RunAdmin runs the suite of queue.EventAdminStore and the admission rate.
func RunAdmin(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) queue.Store)
	}{
		{"UpdateEachField", testUpdateEachField},
		{"UpdateUnknown", testUpdateUnknown},
		{"DeleteRefusedWhileLive", testDeleteRefused},
		{"DeleteForce", testDeleteForce},
		{"DeleteIdle", testDeleteIdle},
		{"EventsAfter", testEventsAfter},
		{"AdmissionRate", testAdmissionRate},
		{"AdmissionRateShared", testAdmissionRateShared},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func fullEvent(id string) queue.Event {
	e := defaultEvent(id)
	e.AdmissionRate = 50
	return e
}

func getEvent(t *testing.T, st queue.Store, id string) queue.Event {
	t.Helper()
	e, _, err := st.Event(t.Context(), id)
	if err != nil {
		t.Fatalf("Event(%s): %v", id, err)
	}
	return e
}

// testUpdateEachField: each field changes alone, the others are kept, and
// the answer is what a read then shows.
func testUpdateEachField(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	sale := epoch().Add(time.Hour)
	cases := []struct {
		f   queue.EventField
		set func(*queue.Event)
	}{
		{queue.FieldState, func(e *queue.Event) { e.State = queue.EventPaused }},
		{queue.FieldMaxConcurrent, func(e *queue.Event) { e.MaxConcurrent = 7 }},
		{queue.FieldCheckoutWindow, func(e *queue.Event) { e.CheckoutWindow = 3 * time.Minute }},
		{queue.FieldCheckoutURL, func(e *queue.Event) { e.CheckoutURL = "/other" }},
		{queue.FieldAdmissionRate, func(e *queue.Event) { e.AdmissionRate = 2.5 }},
		{queue.FieldSaleStartsAt, func(e *queue.Event) {
			e.FairStart = queue.FairStart{SaleStartsAt: sale, Seed: queue.NewSeed()}
		}},
	}
	for _, c := range cases {
		ev := newEventID()
		putEvent(t, st, fullEvent(ev))
		var given queue.Event
		c.set(&given)
		given.ID = ev
		// Every other field of the update differs from the stored one too:
		// only the named one may be taken.
		given.CheckoutURL = cmpOr(given.CheckoutURL, "/ignored")
		got, err := st.UpdateEvent(t.Context(), queue.EventUpdate{Event: given, Fields: queue.EventFields(c.f)})
		if err != nil {
			t.Fatalf("UpdateEvent(%v): %v", queue.EventFields(c.f).Names(), err)
		}
		want := fullEvent(ev)
		c.set(&want)
		if c.f == queue.FieldSaleStartsAt {
			want.FairStart = got.FairStart // checked below
			if !got.FairStart.SaleStartsAt.Equal(sale) || got.FairStart.Seed != given.FairStart.Seed {
				t.Fatalf("UpdateEvent(sale_starts_at) stored %+v, want the start %v and the seed given", got.FairStart, sale)
			}
		}
		if !eventsEqual(got, want) {
			t.Fatalf("UpdateEvent(%v) = %+v, want %+v", queue.EventFields(c.f).Names(), got, want)
		}
		if read := getEvent(t, st, ev); !eventsEqual(read, got) {
			t.Fatalf("after UpdateEvent(%v) Event = %+v, want %+v", queue.EventFields(c.f).Names(), read, got)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func eventsEqual(a, b queue.Event) bool {
	fa, fb := a.FairStart, b.FairStart
	a.FairStart, b.FairStart = queue.FairStart{}, queue.FairStart{}
	return sameEvent(a, b) && fa.SaleStartsAt.Equal(fb.SaleStartsAt) && fa.Seed == fb.Seed &&
		fa.After == fb.After && fa.Last == fb.Last
}

// testUpdateUnknown: UpdateEvent never creates an event.
func testUpdateUnknown(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev := newEventID()
	_, err := st.UpdateEvent(t.Context(), queue.EventUpdate{Event: queue.Event{ID: ev, State: queue.EventPaused}, Fields: queue.EventFields(queue.FieldState)})
	if !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("UpdateEvent of an unknown event: %v, want ErrEventNotFound", err)
	}
	if _, _, err := st.Event(t.Context(), ev); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("after it, Event: %v, want ErrEventNotFound", err)
	}
}

// testDeleteRefused: without force, live sessions refuse the deletion and
// nothing changes.
func testDeleteRefused(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, fullEvent(ev))
	ss := joinN(t, st, ev, 2, now)
	admit(t, st, ev, now, 1)
	if _, _, err := st.DeleteEvent(t.Context(), ev, now, false, 10); !errors.Is(err, queue.ErrEventLive) {
		t.Fatalf("DeleteEvent without force: %v, want ErrEventLive", err)
	}
	if e := getEvent(t, st, ev); e.State != queue.EventActive {
		t.Fatalf("after a refused deletion the state is %v", e.State)
	}
	if s := stats(t, st, ev); s.QueueLength != 1 || s.Processing != 1 {
		t.Fatalf("after a refused deletion: %+v", s)
	}
	if s, _ := session(t, st, ss[1].ID); s.Status != queue.StatusQueued {
		t.Fatalf("after a refused deletion the queued session is %v", s.Status)
	}
	if _, _, err := st.DeleteEvent(t.Context(), newEventID(), now, true, 10); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("DeleteEvent of an unknown event: %v, want ErrEventNotFound", err)
	}
}

// testDeleteForce: force ends queued and admitted sessions, limit at a
// time, as expired with the deletion's reason; the event is then gone, and
// its seq goes on when the id is used again.
func testDeleteForce(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, fullEvent(ev))
	rec := Subscribe(t, st, ev)
	ss := joinN(t, st, ev, 5, now)
	admitted := admit(t, st, ev, now, 2) // seq 6
	var ended []queue.Session
	for calls := 1; ; calls++ {
		got, done, err := st.DeleteEvent(t.Context(), ev, now.Add(time.Second), true, 2)
		if err != nil {
			t.Fatalf("DeleteEvent call %d: %v", calls, err)
		}
		if len(got) > 2 || calls > 3 {
			t.Fatalf("DeleteEvent call %d ended %d sessions with limit 2", calls, len(got))
		}
		if calls == 1 {
			if e := getEvent(t, st, ev); e.State != queue.EventClosed {
				t.Fatalf("an event being deleted is %v, want closed", e.State)
			}
			if _, _, _, err := st.Join(t.Context(), joinParams(ev, "late", now)); !errors.Is(err, queue.ErrEventClosed) {
				t.Fatalf("a join to an event being deleted: %v, want ErrEventClosed", err)
			}
		}
		ended = append(ended, got...)
		if done {
			break
		}
	}
	if len(ended) != 5 {
		t.Fatalf("DeleteEvent ended %d sessions, want 5", len(ended))
	}
	for _, s := range ended {
		if s.Status != queue.StatusExpired {
			t.Fatalf("ended session %s is %v", s.ID, s.Status)
		}
	}
	if !slices.ContainsFunc(ended, func(s queue.Session) bool { return s.ID == admitted[0].ID }) {
		t.Fatal("the admitted sessions were not ended")
	}
	cs := rec.upTo(t, 9) // 5 joins, 1 admission, 3 deletion steps
	reasons := 0
	for _, c := range cs[6:] {
		if c.Kind != queue.ChangeExpired {
			t.Fatalf("deletion step announced %v", c.Kind)
		}
		for _, s := range c.Sessions {
			if s.Status != queue.StatusExpired || s.Reason != queue.ExpiredEventDeleted {
				t.Fatalf("deletion step announced %+v", s)
			}
			reasons++
		}
	}
	if reasons != 5 || cs[8].QueueLength != 0 {
		t.Fatalf("the deletion announced %d sessions (want 5):%s", reasons, formatChanges(cs))
	}
	if _, _, err := st.Event(t.Context(), ev); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("Event after DeleteEvent: %v, want ErrEventNotFound", err)
	}
	if _, _, err := st.Session(t.Context(), ss[4].ID); !errors.Is(err, queue.ErrSessionNotFound) {
		t.Fatalf("a session the deletion ended reads: %v, want ErrSessionNotFound", err)
	}
	if evs, err := st.EventsAfter(t.Context(), ev[:len(ev)-1], 1000); err != nil || slices.ContainsFunc(evs, func(e queue.Event) bool { return e.ID == ev }) {
		t.Fatalf("EventsAfter lists a deleted event (%v)", err)
	}
	// The id again: a fresh event, numbering its changes after the last.
	s, pl := join(t, st, ev, ss[0].UserID, now.Add(2*time.Second))
	if s.Ticket != 1 && s.Ticket != 6 || pl.Position != 1 {
		t.Fatalf("a join after the deletion: ticket %d position %d", s.Ticket, pl.Position)
	}
	if c := rec.WaitSession(t, s.ID); c.Seq != 10 {
		t.Fatalf("the first change after the deletion has seq %d, want 10", c.Seq)
	}
	if e := getEvent(t, st, ev); e.State != queue.EventActive || e.AdmissionRate != 0 {
		t.Fatalf("the event registered again has the deleted one's settings: %+v", e)
	}
}

// testDeleteIdle: an event without live sessions is deleted in one call
// that announces nothing.
func testDeleteIdle(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, fullEvent(ev))
	rec := Subscribe(t, st, ev)
	s, _ := join(t, st, ev, "u", now)
	if _, err := st.Leave(t.Context(), s.ID, now); err != nil {
		t.Fatal(err)
	}
	ended, done, err := st.DeleteEvent(t.Context(), ev, now, false, 10)
	if err != nil || !done || len(ended) != 0 {
		t.Fatalf("DeleteEvent of an idle event = %v, %v, %v; want nothing ended, done", ended, done, err)
	}
	if _, _, err := st.Event(t.Context(), ev); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("Event after DeleteEvent: %v", err)
	}
	putEvent(t, st, fullEvent(ev))
	s, _ = join(t, st, ev, "v", now)
	if c := rec.WaitSession(t, s.ID); c.Seq != 3 {
		t.Fatalf("after deleting an idle event, the next change has seq %d, want 3 (nothing announced)", c.Seq)
	}
}

// testEventsAfter: pages in id order, after the id given.
func testEventsAfter(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := newEventID()
	var want []string
	for _, c := range []string{"e", "a", "d", "b", "c"} {
		putEvent(t, st, fullEvent(base+"-"+c))
	}
	for _, c := range []string{"a", "b", "c", "d", "e"} {
		want = append(want, base+"-"+c)
	}
	var got []string
	after := base
	for range 10 {
		evs, err := st.EventsAfter(t.Context(), after, 2)
		if err != nil {
			t.Fatalf("EventsAfter(%s): %v", after, err)
		}
		if len(evs) > 2 {
			t.Fatalf("EventsAfter(limit 2) gave %d", len(evs))
		}
		for _, e := range evs {
			if e.ID > base+"-z" {
				evs = nil // past the suite's own events
				break
			}
			got = append(got, e.ID)
			after = e.ID
		}
		if len(evs) < 2 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged events %v, want %v", got, want)
	}
}

// testAdmissionRate: 5 users a second at 100 ms ticks over 20 s, with a
// capacity of 1,000, admits 100 ± 10 (a full bucket of 5 first, then about
// one every other tick).
func testAdmissionRate(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	e := fullEvent(ev)
	e.MaxConcurrent, e.AdmissionRate = 1000, 5
	putEvent(t, st, e)
	joinN(t, st, ev, 300, now)
	total, most := 0, 0
	for tick := range 200 {
		n := len(admit(t, st, ev, now.Add(time.Duration(tick)*100*time.Millisecond), 1000))
		total += n
		most = max(most, n)
	}
	if total < 90 || total > 110 {
		t.Fatalf("5/s over 20 s admitted %d, want 100 ± 10", total)
	}
	if most > 5 {
		t.Fatalf("one tick admitted %d, more than a second's worth (5)", most)
	}
}

// testAdmissionRateShared: two replicas admitting at every tick share one
// budget.
func testAdmissionRateShared(t *testing.T, newStore func(*testing.T) queue.Store) {
	a, b := newStore(t), newStore(t)
	ev, now := newEventID(), epoch()
	e := fullEvent(ev)
	e.MaxConcurrent, e.AdmissionRate = 1000, 10
	putEvent(t, a, e)
	joinN(t, a, ev, 300, now)
	total := 0
	for tick := range 100 { // 10 s
		at := now.Add(time.Duration(tick) * 100 * time.Millisecond)
		total += len(admit(t, a, ev, at, 1000)) + len(admit(t, b, ev, at, 1000))
	}
	if total < 95 || total > 115 {
		t.Fatalf("two replicas at 10/s over 10 s admitted %d, want about 110 (100 + a burst of 10)", total)
	}
	if s := stats(t, a, ev); s.Processing != int64(total) {
		t.Fatal(fmt.Sprintf("processing %d, admitted %d", s.Processing, total))
	}
}

// RunAdminOutbox runs the admin suite's outbox test: the stores newStore
// returns must record every change (queue.Outbox).
func RunAdminOutbox(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()
	t.Run("DeleteKeepsOutbox", func(t *testing.T) { testDeleteKeepsOutbox(t, newStore) })
}

// testDeleteKeepsOutbox: a deleted event's unrelayed changes, the
// deletion's expiries with their reason among them, are kept and the event
// listed live until relayed; then it is idle, and its seq goes on.
func testDeleteKeepsOutbox(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ob := outboxOf(t, st)
	ev, now := newEventID(), epoch()
	putEvent(t, st, fullEvent(ev))
	joinN(t, st, ev, 3, now)
	if _, done, err := st.DeleteEvent(t.Context(), ev, now, true, 10); err != nil || !done {
		t.Fatalf("DeleteEvent: done %v, %v", done, err)
	}
	wantLive(t, st, ev, true)
	es := claim(t, ob, ev, "relay", 10, time.Minute)
	wantSeqs(t, "the deleted event's outbox", es, 1, 2, 3, 4)
	last := es[3].Change
	if last.Kind != queue.ChangeExpired || len(last.Sessions) != 3 || last.Sessions[0].Reason != queue.ExpiredEventDeleted {
		t.Fatalf("the deletion recorded %+v", last)
	}
	ack(t, ob, ev, es...)
	expire(t, st, ev, now, 10)
	wantLive(t, st, ev, false)
	forgetAll(t, st, ev, now)
	s, _ := join(t, st, ev, "again", now)
	es = claim(t, ob, ev, "relay", 10, time.Minute)
	if len(es) != 1 || es[0].Change.Seq != 5 || es[0].Change.Sessions[0].ID != s.ID {
		t.Fatalf("after the deletion was relayed, a join recorded %+v, want seq 5", es)
	}
}

// sameEvent reports whether two events' settings are equal.
func sameEvent(a, b queue.Event) bool {
	return a.ID == b.ID && a.State == b.State && a.MaxConcurrent == b.MaxConcurrent &&
		a.CheckoutWindow == b.CheckoutWindow && a.CheckoutURL == b.CheckoutURL &&
		a.FairStart == b.FairStart && a.AdmissionRate == b.AdmissionRate && slices.Equal(a.Lanes, b.Lanes)
}
