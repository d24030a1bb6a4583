package redisstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// TestPlacementWhileSessionsLeave: sessions that leave the pre-queue
// between the placement's read and its script are left out, and the rest
// are placed in the seed's order at once, without a retry: a crowd that
// keeps leaving cannot hold the placement off.
func TestPlacementWhileSessionsLeave(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	start := now.Add(time.Hour)
	e := queue.Event{ID: "fair-leave", State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute,
		FairStart: queue.FairStart{SaleStartsAt: start, Seed: queue.NewSeed()}}
	if _, err := st.PutEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 40 {
		s, _, _, err := st.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID(e.ID), UserID: fmt.Sprint("u", i),
			EventID: e.ID, Now: now, TTL: time.Hour, NewEvent: e})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	reads := 0
	defer redisstore.SetAfterPlacementRead(func() {
		reads++
		for _, id := range ids[reads : reads+3] { // three more leave after every read
			if _, err := st.Leave(ctx, id, now); err != nil {
				t.Error(err)
			}
		}
	})()
	fs, placed, err := st.PlacePreQueue(ctx, e.ID, start)
	if err != nil || !placed || reads != 1 || fs.Placed != 37 {
		t.Fatalf("PlacePreQueue = %+v, %v, %v after %d reads; want 37 placed at the first", fs, placed, err, reads)
	}
	left := ids[1:4]
	var stay []string
	for _, id := range ids {
		if !slices.Contains(left, id) {
			stay = append(stay, id)
		}
	}
	order, err := st.PreQueue(ctx, e.ID)
	if err != nil || !slices.Equal(order, fs.Order(stay)) {
		t.Fatalf("placed %v (%v), want the seed's order of those who stayed", order, err)
	}
	for i, id := range order {
		if _, pl, err := st.Session(ctx, id); err != nil || pl.Position != int64(i+1) {
			t.Fatalf("placed %d: position %d (%v)", i, pl.Position, err)
		}
	}
	for _, id := range left {
		if s, _, _ := st.Session(ctx, id); s.Status != queue.StatusLeft {
			t.Fatalf("%s left, now %v", id, s.Status)
		}
	}
}
