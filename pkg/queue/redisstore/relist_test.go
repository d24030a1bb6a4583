package redisstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// TestLostListingIsRepaired deletes the list of events (as a Redis restart
// without persistence would): the next join after relistEvery lists the
// event again, so the processor sees it and admits again.
func TestLostListingIsRepaired(t *testing.T) {
	defer redisstore.SetRelistEvery(0)()
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ctx := t.Context()
	join := func(user string) {
		t.Helper()
		_, _, _, err := st.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID("relist"), UserID: user, EventID: "relist",
			Now: time.Now(), TTL: time.Hour, NewEvent: queue.Event{ID: "relist", State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
	}
	join("a")
	srv.MustString("DEL", redisstore.EventsKey)
	join("b")
	events, err := st.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e queue.Event) bool { return e.ID == "relist" }) {
		t.Fatalf("event not listed again after its listing was lost: %v", events)
	}
}

// TestResentLeaveIsRecognised re-sends a leave with the same request id, as
// the client does after losing the reply of a leave that succeeded: the
// answer is success again and nothing is announced twice. A second leave
// (another request) is refused.
func TestResentLeaveIsRecognised(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ctx := t.Context()
	s, _, _, err := st.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID("resend"), UserID: "u", EventID: "resend",
		Now: time.Now(), TTL: time.Hour, NewEvent: queue.Event{ID: "resend", State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	restore := redisstore.SetRequestID("one-call")
	for range 2 {
		if _, err := st.Leave(ctx, s.ID, time.Now()); err != nil {
			t.Fatalf("re-sent leave: %v", err)
		}
	}
	restore()
	_, stats, err := st.Event(ctx, "resend")
	if err != nil || stats.Seq != 2 {
		t.Fatalf("seq %d after a join and one leave sent twice, want 2 (%v)", stats.Seq, err)
	}
	if _, err := st.Leave(ctx, s.ID, time.Now()); !errors.Is(err, queue.ErrNotQueued) {
		t.Fatalf("a second leave: %v, want ErrNotQueued", err)
	}
}
