package diskstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/waitroom/waitroom/pkg/queue"
)

// fairWorld is an event with a fair start and a pre-queue of n.
func fairWorld(t *testing.T, s *Store, n int) (eventID string, start time.Time, pre []string) {
	t.Helper()
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	start = now.Add(time.Hour)
	e := queue.Event{ID: "fair", State: queue.EventActive, MaxConcurrent: 5, CheckoutWindow: time.Minute,
		FairStart: queue.FairStart{SaleStartsAt: start, Seed: queue.NewSeed()}}
	if _, err := s.PutEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := queue.NewSessionID(e.ID)
		if _, _, _, err := s.Join(ctx, queue.JoinParams{SessionID: id, UserID: fmt.Sprintf("u%d", i), EventID: e.ID,
			Now: now.Add(time.Duration(i) * time.Millisecond), TTL: time.Hour, NewEvent: e}); err != nil {
			t.Fatal(err)
		}
		pre = append(pre, id)
	}
	return e.ID, start, pre
}

// orderOf is the event's waiting sessions in ticket order.
func orderOf(t *testing.T, s *Store, ids []string) []string {
	t.Helper()
	type held struct {
		id     string
		ticket uint64
	}
	var hs []held
	for _, id := range ids {
		sess, _, err := s.Session(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, held{id, sess.Ticket})
	}
	slices.SortFunc(hs, func(a, b held) int { return int(a.ticket) - int(b.ticket) })
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.id
	}
	return out
}

// TestFairStartSurvivesRestart: a placement, replayed from the log or read
// from a snapshot, gives the same order, and the seed with it.
func TestFairStartSurvivesRestart(t *testing.T) {
	for _, snap := range []int64{1 << 30, 300} {
		t.Run(fmt.Sprintf("snapshot-every-%d", snap), func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), SnapshotBytes: snap}
			s := openT(t, cfg)
			ev, start, pre := fairWorld(t, s, 300)
			fs, placed, err := s.PlacePreQueue(t.Context(), ev, start)
			if err != nil || !placed {
				t.Fatalf("PlacePreQueue = %v, %v", placed, err)
			}
			order := orderOf(t, s, pre)
			want := dumpOf(s)
			s.Close()

			s = openT(t, cfg)
			defer s.Close()
			if got := dumpOf(s); !bytes.Equal(got, want) {
				t.Fatal("the reopened store differs from the closed one")
			}
			e, _, err := s.Event(t.Context(), ev)
			if err != nil || e.FairStart != fs {
				t.Fatalf("fair start after restart %+v (%v), want %+v", e.FairStart, err, fs)
			}
			listed, err := s.PreQueue(t.Context(), ev)
			if err != nil || !slices.Equal(listed, order) || !slices.Equal(order, fs.Order(pre)) {
				t.Fatal("the placed order changed across the restart, or is not the seed's")
			}
			if _, placed, _ := s.PlacePreQueue(t.Context(), ev, start); placed {
				t.Fatal("placed again after a restart")
			}
		})
	}
}

// TestFairStartTornPlacement: a crash while the placement's record was
// written leaves the pre-queue unplaced, never half-placed; placing again
// gives the order the first placement did.
func TestFairStartTornPlacement(t *testing.T) {
	cfg := Config{Dir: t.TempDir(), SnapshotBytes: 1 << 30}
	s := openT(t, cfg)
	ev, start, pre := fairWorld(t, s, 200)
	before := dumpOf(s)
	placedLSN := s.nextLSN
	if _, placed, err := s.PlacePreQueue(t.Context(), ev, start); err != nil || !placed {
		t.Fatalf("PlacePreQueue = %v, %v", placed, err)
	}
	order := orderOf(t, s, pre)
	s.Close()

	db, err := openDB(cfg.Dir, false)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		segs, _ := listBuckets(tx, 0)
		b := tx.Bucket(segmentName(segs[len(segs)-1]))
		k, v := b.Cursor().Last()
		if binary.BigEndian.Uint64(k) != placedLSN {
			t.Fatalf("last record %d, want the placement's %d", binary.BigEndian.Uint64(k), placedLSN)
		}
		return b.Put(k, v[:len(v)-3])
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = openT(t, cfg)
	defer s.Close()
	if got := dumpOf(s); !bytes.Equal(got, before) {
		t.Fatal("after the torn placement the state is not the unplaced one")
	}
	if _, placed, err := s.PlacePreQueue(t.Context(), ev, start); err != nil || !placed {
		t.Fatalf("placing again = %v, %v", placed, err)
	}
	if got := orderOf(t, s, pre); !slices.Equal(got, order) {
		t.Fatal("placing again gave another order")
	}
}
