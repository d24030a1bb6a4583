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

// TestRestoreDumpBeforeRates: a dump written before admission-rate buckets
// and tombstones (version 2) restores with a fresh bucket, and dumps again
// as the current version with nothing else changed.
func TestRestoreDumpBeforeRates(t *testing.T) {
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
	v3 := s.dumpAt(dumpVersionNoLanes)
	// Version 2 is version 3 without each event's last three fields; this
	// one event's are a fresh bucket, right before the empty idle list.
	tail := &binenc.Writer{}
	tail.Bool(false)
	tail.Uvarint(math.Float64bits(0))
	tail.Time(time.Time{})
	tail.Uvarint(0) // the idle list
	if v3[0] != dumpVersionNoLanes || !bytes.HasSuffix(v3, tail.B) {
		t.Fatalf("unexpected dump layout %q", v3)
	}
	v2 := append([]byte{dumpVersionNoRate}, v3[1:len(v3)-len(tail.B)]...)
	v2 = append(v2, 0)
	r, err := Restore(Config{}, v2)
	if err != nil {
		t.Fatalf("Restore(version 2): %v", err)
	}
	if got := r.dumpAt(dumpVersionNoLanes); !bytes.Equal(got, v3) {
		t.Fatalf("a version 2 dump restored and dumped again:\n%q\nwant\n%q", got, v3)
	}
	if out, _ := r.Admit(ctx, "ev", now, 10); len(out) != 1 {
		t.Fatalf("the restored store admitted %d, want 1", len(out))
	}
}
