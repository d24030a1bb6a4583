package diskstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// TestFiguresSurviveRestart: the totals, recent admissions and waits are
// on disk with the changes that made them, through a snapshot and the log
// after it; the stream reports, which belong to the process, are not.
func TestFiguresSurviveRestart(t *testing.T) {
	for _, snap := range []int64{1 << 30, 300} {
		cfg := Config{Dir: t.TempDir(), SnapshotBytes: snap}
		s := openT(t, cfg)
		ctx := t.Context()
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var ids []string
		for _, u := range []string{"a", "b", "c", "d"} {
			sess, _, _, err := s.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID("ev"), UserID: u, EventID: "ev", Now: now, TTL: time.Hour,
				NewEvent: queue.Event{ID: "ev", State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sess.ID)
		}
		if _, err := s.Admit(ctx, "ev", now.Add(3*time.Second), 10); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Complete(ctx, ids[0], now.Add(4*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Leave(ctx, ids[3], now.Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.ReportStreams(ctx, "r", map[string]int64{"ev": 2}, now); err != nil {
			t.Fatal(err)
		}
		before, err := s.Figures(ctx, "ev")
		if err != nil {
			t.Fatal(err)
		}
		want := queue.Totals{Joined: 4, Admitted: 2, Completed: 1, Left: 1}
		if before.Totals != want || len(before.Waits) != 2 || len(before.Streams) != 1 {
			t.Fatalf("before the restart: %+v", before)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openT(t, cfg)
		after, err := s.Figures(ctx, "ev")
		if err != nil {
			t.Fatal(err)
		}
		before.Streams = nil
		if !reflect.DeepEqual(after, before) {
			t.Fatalf("snapshot every %d bytes: after the restart\n%+v\nwant\n%+v", snap, after, before)
		}
		s.Close()
	}
}
