package queuetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// BenchmarkPlacement measures PlacePreQueue on a pre-queue of n sessions,
// joined through the store by 64 callers at once before each placement
// (untimed). place-s is the time one placement takes.
func BenchmarkPlacement(b *testing.B, st queue.Store, n int) {
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		ev, start := fillPreQueue(b, st, n)
		b.StartTimer()
		t0 := time.Now()
		fs, placed, err := st.PlacePreQueue(b.Context(), ev, start)
		took += time.Since(t0)
		if err != nil || !placed || fs.Placed != int64(n) {
			b.Fatalf("PlacePreQueue = %+v, %v, %v; want %d placed", fs, placed, err, n)
		}
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "place-s")
}

// fillPreQueue makes an event whose sale starts in an hour, with n
// sessions in its pre-queue.
func fillPreQueue(b *testing.B, st queue.Store, n int) (string, time.Time) {
	const callers = 64
	now := epoch()
	e := defaultEvent(newEventID())
	e.FairStart = queue.FairStart{SaleStartsAt: now.Add(time.Hour), Seed: queue.NewSeed()}
	if _, err := st.PutEvent(b.Context(), e); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := c; i < n; i += callers {
				p := joinParams(e.ID, fmt.Sprintf("user-%d", i), now)
				if _, _, _, err := st.Join(b.Context(), p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return e.ID, e.FairStart.SaleStartsAt
}
