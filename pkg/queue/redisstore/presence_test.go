package redisstore_test

import (
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
)

// TestMarkPresentChunks: a refresh longer than one script's share is
// marked in several calls, all of it; made-up ids of an unknown event write
// no key.
func TestMarkPresentChunks(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ev, now := "chunks", time.Now().Truncate(time.Millisecond)
	real, _, _, err := st.Join(t.Context(), joinParams(ev, "u", now))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, 12001)
	for range 12000 {
		ids = append(ids, queue.NewSessionID(ev))
	}
	ids = append(ids, real.ID) // in the third chunk
	before := srv.CommandStats()
	if err := st.MarkPresent(t.Context(), ev, ids, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := redistest.CommandDelta(before, srv.CommandStats(), "info")["evalsha"]; n != 3 {
		t.Errorf("12,001 ids took %d script calls, want 3", n)
	}
	got, err := st.AdmitPresent(t.Context(), ev, now.Add(time.Minute), 10, queue.PresenceRule{Grace: time.Millisecond, Hold: time.Hour})
	if err != nil || len(got) != 1 || got[0].ID != real.ID {
		t.Fatalf("AdmitPresent = %v, %v; want the session marked in the last chunk", got, err)
	}
	other := "made-up"
	if err := st.MarkPresent(t.Context(), other, []string{queue.NewSessionID(other)}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := srv.MustString("EXISTS", "waitroom:{"+other+"}:present"); n != "0" {
		t.Errorf("marking a made-up session wrote its event's presence key")
	}
}
