package queue_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// TestWatchFiguresEverySecond: the figures come at once, then once a
// second with what changed meanwhile, until the service closes.
func TestWatchFiguresEverySecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t, memstore.New(memstore.Config{}), 1)
		ctx := context.Background()
		if _, _, err := svc.Join(ctx, "a", "ev"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var got []queue.Figures
		done := make(chan error)
		go func() {
			done <- svc.WatchFigures(ctx, "ev", func(f queue.Figures) error {
				got = append(got, f)
				return nil
			})
		}()
		synctest.Wait()
		if len(got) != 1 || got[0].Joined != 1 || !got[0].At.Equal(start) {
			t.Fatalf("at once: %+v", got)
		}
		if _, _, err := svc.Join(ctx, "b", "ev"); err != nil {
			t.Fatal(err)
		}
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(queue.FiguresInterval)
		synctest.Wait()
		if len(got) != 2 || got[1].Joined != 2 || got[1].Admitted != 1 || got[1].Stats.QueueLength != 1 || got[1].At.Sub(start) != time.Second {
			t.Fatalf("a second later: %+v", got[len(got)-1])
		}
		svc.Close()
		if err := <-done; !errors.Is(err, queue.ErrShuttingDown) {
			t.Fatalf("WatchFigures after Close: %v, want ErrShuttingDown", err)
		}
	})
}

func TestWatchFiguresUnknownEvent(t *testing.T) {
	svc := newService(t, memstore.New(memstore.Config{}), 1)
	err := svc.WatchFigures(t.Context(), "nope", func(queue.Figures) error { return nil })
	if !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("WatchFigures of an unknown event: %v, want ErrEventNotFound", err)
	}
}

// TestFiguresRateAndWaits: the admission rate is over the last minute, or
// since the first join when that is shorter, and the wait percentiles are
// by nearest rank.
func TestFiguresRateAndWaits(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	r := queue.FigureRecord{Since: t0}
	for i := range 10 {
		r.Admits.Add(t0.Add(time.Duration(i)*time.Second), 3)
		r.Waits = append(r.Waits, time.Duration(10-i)*time.Second)
	}
	for _, c := range []struct {
		at   time.Time
		want float64
	}{
		{t0.Add(9 * time.Second), 30.0 / 10},
		{t0.Add(59 * time.Second), 30.0 / 60},
		{t0.Add(65 * time.Second), 12.0 / 60},
		{t0.Add(70 * time.Second), 0},
	} {
		if got := r.FiguresAt(c.at).AdmittedPerSecond; got != c.want {
			t.Errorf("at %v: %v admitted/s, want %v", c.at.Sub(t0), got, c.want)
		}
	}
	f := r.FiguresAt(t0)
	if f.WaitP50 != 5*time.Second || f.WaitP90 != 9*time.Second || f.WaitSamples != 10 {
		t.Fatalf("waits: p50 %v p90 %v of %d, want 5s, 9s of 10", f.WaitP50, f.WaitP90, f.WaitSamples)
	}
	// A slot a minute old starts again.
	r.Admits.Add(t0.Add(60*time.Second), 1)
	if n := r.Admits.InWindow(t0.Add(60 * time.Second)); n != 28 {
		t.Fatalf("%d admissions in the minute to 60s, want 28", n)
	}
}
