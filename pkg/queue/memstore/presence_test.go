package memstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// BenchmarkAdmitPresent measures presence-aware admission in memory:
// pass1000absent, one call passing over 1,000 absent heads; behind100000held,
// a call admitting the 10 present sessions behind 100,000 held places.
func BenchmarkAdmitPresent(b *testing.B) {
	ctx := b.Context()
	now := time.Now()
	later := now.Add(time.Minute)
	rule := queue.PresenceRule{Grace: time.Millisecond, Hold: 15 * time.Minute}
	b.Run("pass1000absent", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := memstore.New(memstore.Config{})
			for i := range 1000 {
				if _, _, _, err := s.Join(ctx, join("absent", fmt.Sprintf("u%d", i), now)); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			if got, err := s.AdmitPresent(ctx, "absent", later, 1000, rule); err != nil || len(got) != 0 {
				b.Fatalf("admitted %d: %v", len(got), err)
			}
		}
	})
	b.Run("behind100000held", func(b *testing.B) {
		s := memstore.New(memstore.Config{})
		if _, err := s.PutEvent(ctx, queue.Event{ID: "held", State: queue.EventActive, MaxConcurrent: 1 << 40, CheckoutWindow: time.Hour}); err != nil {
			b.Fatal(err)
		}
		for i := range 100_000 {
			if _, _, _, err := s.Join(ctx, join("held", fmt.Sprintf("u%d", i), now)); err != nil {
				b.Fatal(err)
			}
		}
		for range 100 {
			if _, err := s.AdmitPresent(ctx, "held", later, 1000, rule); err != nil {
				b.Fatal(err)
			}
		}
		n := 0
		for b.Loop() {
			b.StopTimer()
			for range 10 {
				n++
				if _, _, _, err := s.Join(ctx, join("held", fmt.Sprintf("p%d", n), later)); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			if got, err := s.AdmitPresent(ctx, "held", later, 1000, rule); err != nil || len(got) != 10 {
				b.Fatalf("admitted %d: %v", len(got), err)
			}
		}
	})
}
