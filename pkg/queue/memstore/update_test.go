package memstore

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
)

// TestRestoreOlderDumps: a dump written before the events' figures
// (version 3) restores with none, and one written before admission-rate
// buckets and tombstones too (version 2) with a fresh bucket as well; both
// dump again as the current version with nothing else changed.
func TestRestoreOlderDumps(t *testing.T) {
	ctx := context.Background()
	s := New(Config{})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, u := range []string{"a", "b"} {
		p := queue.JoinParams{SessionID: queue.NewSessionID("ev"), UserID: u, EventID: "ev", Now: now, TTL: time.Hour,
			NewEvent: queue.Event{ID: "ev", State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute}}
		if _, _, _, err := s.Join(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	v4 := s.dumpAt(dumpVersionNoLanes)
	// Version 3 is version 4 without each event's last field, its figures;
	// this one event's come right before the empty idle list.
	figs := &binenc.Writer{}
	s.events["ev"].fig.dump(figs)
	if v4[0] != dumpVersionNoLanes || !bytes.HasSuffix(v4, append(figs.B, 0)) || s.events["ev"].fig.totals.Joined != 2 {
		t.Fatalf("unexpected dump layout %q", v4)
	}
	v3 := append([]byte{dumpVersionNoFigures}, v4[1:len(v4)-len(figs.B)-1]...)
	v3 = append(v3, 0)
	// Version 2 is version 3 without each event's last three fields; this
	// one event's are a fresh bucket.
	tail := &binenc.Writer{}
	tail.Bool(false)
	tail.Uvarint(math.Float64bits(0))
	tail.Time(time.Time{})
	if !bytes.HasSuffix(v3, append(tail.B, 0)) {
		t.Fatalf("unexpected version 3 layout %q", v3)
	}
	v2 := append([]byte{dumpVersionNoRate}, v3[1:len(v3)-len(tail.B)-1]...)
	v2 = append(v2, 0)

	// Version 5 adds lanes: this store has none, so a version 4 dump
	// restores to the very same state.
	if r, err := Restore(Config{}, v4); err != nil || !bytes.Equal(r.Dump(), s.Dump()) {
		t.Fatalf("a version 4 dump restored and dumped again differs (%v)", err)
	}

	s.events["ev"].fig = newFigures()
	want := s.Dump()
	for _, old := range [][]byte{v3, v2} {
		r, err := Restore(Config{}, old)
		if err != nil {
			t.Fatalf("Restore(version %d): %v", old[0], err)
		}
		if got := r.Dump(); !bytes.Equal(got, want) {
			t.Fatalf("a version %d dump restored and dumped again:\n%q\nwant\n%q", old[0], got, want)
		}
		if out, _ := r.Admit(ctx, "ev", now, 10); len(out) != 1 {
			t.Fatalf("the store restored from version %d admitted %d, want 1", old[0], len(out))
		}
		f, err := r.Figures(ctx, "ev")
		if err != nil || f.Totals != (queue.Totals{Admitted: 1}) || len(f.Waits) != 1 {
			t.Fatalf("figures after restoring version %d and admitting one: %+v, %v", old[0], f.Totals, err)
		}
	}
}
