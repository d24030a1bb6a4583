package redisstore_test

import (
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
