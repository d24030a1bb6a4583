package queue_test

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// FuzzSessionIDs checks the id rules against each other: a session id made
// for an accepted event id is accepted and names that event; any accepted
// session id is an accepted event id, "~" and 26 base32 characters; and no
// accepted id of any kind holds a Redis hash-tag brace, so no id can move
// an event's keys into another event's slot.
func FuzzSessionIDs(f *testing.F) {
	for _, seed := range []struct{ event, session string }{
		{"concert-2024", "concert-2024~0123456789abcdefghjkmnpqrs"},
		{"a", "a~zzzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"{a}", "{a}~0123456789abcdefghjkmnpqrs"},
		{"a}b{c", "x~y~0123456789abcdefghjkmnpqrs"},
		{"", "~0123456789abcdefghjkmnpqrs"},
		{strings.Repeat("e", 64), strings.Repeat("e", 64) + "~0123456789abcdefghjkmnpqrs"},
		{strings.Repeat("e", 65), strings.Repeat("e", 65) + "~0123456789abcdefghjkmnpqrs"},
		{"é", "e~0123456789ABCDEFGHJKMNPQRS"},
		{"a~b", "a~0123456789abcdefghjkmnpqrs~"},
		{"a:b@c", "a:b~0123456789abcdefghjkmnpqil"},
	} {
		f.Add(seed.event, seed.session)
	}
	f.Fuzz(func(t *testing.T, eventID, sessionID string) {
		if err := queue.ValidateEventID(eventID); err == nil {
			noBraces(t, "event id", eventID)
			id := queue.NewSessionID(eventID)
			if err := queue.ValidateSessionID(id); err != nil {
				t.Fatalf("NewSessionID(%q) = %q, refused: %v", eventID, id, err)
			}
			if got := queue.EventOfSession(id); got != eventID {
				t.Fatalf("EventOfSession(NewSessionID(%q)) = %q", eventID, got)
			}
		} else {
			invalid(t, err, "event_id")
		}
		if err := queue.ValidateUserID(eventID); err == nil {
			noBraces(t, "user id", eventID)
		} else {
			invalid(t, err, "user_id")
		}
		err := queue.ValidateSessionID(sessionID)
		if err != nil {
			invalid(t, err, "session_id")
			return
		}
		noBraces(t, "session id", sessionID)
		ev := queue.EventOfSession(sessionID)
		if err := queue.ValidateEventID(ev); err != nil {
			t.Fatalf("session id %q accepted, its event %q refused: %v", sessionID, ev, err)
		}
		random, ok := strings.CutPrefix(sessionID, ev+"~")
		if !ok || len(random) != 26 || strings.Trim(random, "0123456789abcdefghjkmnpqrstvwxyz") != "" {
			t.Fatalf("session id %q accepted: not %q, \"~\" and 26 base32 characters", sessionID, ev)
		}
	})
}

func noBraces(t *testing.T, what, id string) {
	t.Helper()
	if strings.ContainsAny(id, "{}") {
		t.Fatalf("%s %q accepted with a hash-tag brace", what, id)
	}
}

func invalid(t *testing.T, err error, field string) {
	t.Helper()
	var ia *queue.InvalidArgumentError
	if !errors.As(err, &ia) || ia.Field != field {
		t.Fatalf("refusal %v is not an InvalidArgumentError on %s", err, field)
	}
}

// FuzzRejectedRequestsChangeNothing makes requests with fuzzed ids against an
// event holding a waiting and an admitted session, through the service and
// straight to the store: whatever a request is refused for, the store is
// left exactly as it was. The session ids are
// either fuzzed whole or the live sessions' ids with a fuzzed ending, so the
// fuzzer reaches ids of sessions that exist.
func FuzzRejectedRequestsChangeNothing(f *testing.F) {
	f.Add("user-1", "concert", "concert~0123456789abcdefghjkmnpqrs", uint8(0))
	f.Add("waiting", "concert", "", uint8(1))
	f.Add("admitted", "concert", "", uint8(2))
	f.Add("u{1}", "{concert}", "x", uint8(1))
	f.Add("", "concert}", "zz", uint8(2))
	f.Add("u", "other", "other~0123456789abcdefghjkmnpqrs", uint8(0))
	f.Add(strings.Repeat("u", 129), strings.Repeat("e", 65), "~", uint8(0))
	f.Fuzz(func(t *testing.T, userID, eventID, fuzzedSession string, which uint8) {
		ctx := t.Context()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		store := memstore.New(memstore.Config{Outbox: true, Now: func() time.Time { return now }})
		svc, _ := queuetest.NewService(t, store, queue.Config{Now: func() time.Time { return now }}, fanout.Config{})
		admitted, _, err := svc.Join(ctx, "admitted", "concert")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Admit(ctx, "concert", now, 1); err != nil {
			t.Fatal(err)
		}
		waiting, _, err := svc.Join(ctx, "waiting", "concert")
		if err != nil {
			t.Fatal(err)
		}
		sessionID := fuzzedSession
		if base := []string{"", waiting.Session.ID, admitted.Session.ID}[which%3]; base != "" {
			sessionID = base[:len(base)-min(len(fuzzedSession), len(base))] + fuzzedSession
		}
		known := []string{waiting.Session.ID, admitted.Session.ID, sessionID}
		requests := []struct {
			name string
			do   func() error
		}{
			{"Join", func() error { _, _, err := svc.Join(ctx, userID, eventID); return err }},
			{"Status", func() error { _, err := svc.Status(ctx, sessionID); return err }},
			{"Leave", func() error { return svc.Leave(ctx, sessionID) }},
			{"CompleteCheckout", func() error { return svc.CompleteCheckout(ctx, sessionID) }},
			{"CompleteCheckoutToken", func() error { return svc.CompleteCheckoutToken(ctx, "token:"+sessionID) }},
			{"Event", func() error { _, _, err := svc.Event(ctx, eventID); return err }},
			// The store itself, unguarded by the service's checks.
			{"store Leave", func() error { _, err := store.Leave(ctx, sessionID, now); return err }},
			{"store Complete", func() error { _, err := store.Complete(ctx, sessionID, now); return err }},
		}
		for _, r := range requests {
			before := storeState(t, store, known)
			if err := r.do(); err == nil {
				continue
			}
			if after := storeState(t, store, known); !reflect.DeepEqual(before, after) {
				t.Fatalf("refused %s(user %q, event %q, session %q) changed the store:\nbefore %+v\nafter  %+v",
					r.name, userID, eventID, sessionID, before, after)
			}
		}
	})
}

// state is everything a request could change in a store.
type state struct {
	Events   []queue.Event
	Stats    map[string]queue.EventStats
	Tickets  map[string][]uint64
	Outbox   map[string]int64
	Sessions map[string]string
}

func storeState(t *testing.T, st *memstore.Store, sessions []string) state {
	t.Helper()
	ctx := context.Background()
	events, err := st.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(events, func(a, b queue.Event) int { return cmp.Compare(a.ID, b.ID) })
	s := state{Events: events, Stats: map[string]queue.EventStats{}, Tickets: map[string][]uint64{},
		Outbox: map[string]int64{}, Sessions: map[string]string{}}
	for _, e := range events {
		_, stats, err := st.Event(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := st.Snapshot(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		n, err := st.OutboxLen(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		s.Stats[e.ID], s.Tickets[e.ID], s.Outbox[e.ID] = stats, snap.Tickets, n
	}
	for _, id := range sessions {
		if sess, _, err := st.Session(ctx, id); err == nil {
			s.Sessions[id] = sess.Status.String()
		}
	}
	return s
}
