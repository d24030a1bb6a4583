package queuetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The live figures (queue.StatsStore).

// RunStats runs the suite of queue.StatsStore.
func RunStats(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) queue.Store)
	}{
		{"Totals", testFiguresTotals},
		{"WaitsBounded", testFiguresWaitsBounded},
		{"UnknownEvent", testFiguresUnknown},
		{"StreamReports", testStreamReports},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func figures(t *testing.T, st queue.Store, ev string) queue.FigureRecord {
	t.Helper()
	r, err := st.Figures(t.Context(), ev)
	if err != nil {
		t.Fatalf("Figures(%s): %v", ev, err)
	}
	return r
}

// testFiguresTotals: each kind of change counts in the totals, admissions
// count at their second and with their waits, and every handle reads the
// same figures.
func testFiguresTotals(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	putEvent(t, st, defaultEvent(ev))
	if r := figures(t, st, ev); r.Totals != (queue.Totals{}) || !r.Since.IsZero() || len(r.Waits) != 0 {
		t.Fatalf("a new event's figures: %+v", r)
	}
	ss := joinN(t, st, ev, 5, now)
	if _, err := st.Leave(t.Context(), ss[4].ID, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	at := now.Add(10 * time.Second)
	if got := admit(t, st, ev, at, 2); len(got) != 2 {
		t.Fatalf("admitted %d, want 2", len(got))
	}
	if _, err := st.Complete(t.Context(), ss[0].ID, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := expire(t, st, ev, at.Add(window), 10); len(got) != 1 || got[0].ID != ss[1].ID {
		t.Fatalf("expired %v, want %s", ids(got), ss[1].ID)
	}
	// A refused change counts nothing.
	if _, err := st.Leave(t.Context(), ss[4].ID, at); err == nil {
		t.Fatal("a second Leave succeeded")
	}
	want := queue.Totals{Joined: 5, Admitted: 2, Completed: 1, Expired: 1, Left: 1}
	for i, h := range []queue.Store{st, newStore(t)} {
		r := figures(t, h, ev)
		if r.Totals != want {
			t.Fatalf("handle %d: totals %+v, want %+v", i, r.Totals, want)
		}
		if !r.Since.Equal(now) {
			t.Fatalf("handle %d: since %v, want the first join %v", i, r.Since, now)
		}
		if !slices.Equal(r.Waits, []time.Duration{10 * time.Second, 10 * time.Second}) {
			t.Fatalf("handle %d: waits %v, want two of 10s", i, r.Waits)
		}
		if r.Stats.QueueLength != 2 || r.Stats.Processing != 0 || r.Event.ID != ev || r.Event.MaxConcurrent != 100 {
			t.Fatalf("handle %d: event %+v counts %+v", i, r.Event, r.Stats)
		}
		if n := r.Admits.InWindow(at); n != 2 {
			t.Fatalf("handle %d: %d admissions in the minute to %v, want 2", i, n, at)
		}
		if n := r.Admits.InWindow(at.Add(queue.RateWindow * time.Second)); n != 0 {
			t.Fatalf("handle %d: %d admissions a minute later, want 0", i, n)
		}
		f := r.FiguresAt(at)
		if wantRate := 2.0 / 11; f.AdmittedPerSecond != wantRate || f.WaitP50 != 10*time.Second || f.WaitP90 != 10*time.Second {
			t.Fatalf("handle %d: figures %+v, want %v admitted/s and waits of 10s", i, f, wantRate)
		}
	}
}

// testFiguresWaitsBounded: only the most recent MaxWaitSamples waits are
// kept, and every admission counts in its second.
func testFiguresWaitsBounded(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	ev, now := newEventID(), epoch()
	e := defaultEvent(ev)
	e.MaxConcurrent = 1 << 20
	putEvent(t, st, e)
	const n = queue.MaxWaitSamples + 10
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if _, _, _, err := st.Join(t.Context(), joinParams(ev, fmt.Sprint("u", i), now)); err != nil {
					t.Errorf("Join: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The first ten wait a second, the others two.
	admit(t, st, ev, now.Add(time.Second), 10)
	at := now.Add(2 * time.Second)
	admit(t, st, ev, at, n)
	r := figures(t, st, ev)
	if len(r.Waits) != queue.MaxWaitSamples || slices.Contains(r.Waits, time.Second) {
		t.Fatalf("kept %d waits (one of 1s: %v), want the %d most recent", len(r.Waits), slices.Contains(r.Waits, time.Second), queue.MaxWaitSamples)
	}
	if r.Totals.Admitted != n || r.Admits.InWindow(at) != n {
		t.Fatalf("admitted %d, %d in the window, want %d", r.Totals.Admitted, r.Admits.InWindow(at), n)
	}
}

func testFiguresUnknown(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	if _, err := st.Figures(t.Context(), newEventID()); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("Figures of an unknown event: %v, want ErrEventNotFound", err)
	}
}

// testStreamReports: the replicas' reports add up while fresh; a report
// withdrawn or older than StreamReportTTL no longer counts.
func testStreamReports(t *testing.T, newStore func(*testing.T) queue.Store) {
	a, b := newStore(t), newStore(t)
	ev, other, now := newEventID(), newEventID(), epoch()
	join(t, a, ev, "u", now)
	report := func(st queue.Store, replica string, counts map[string]int64, at time.Time) {
		t.Helper()
		if err := st.ReportStreams(t.Context(), replica, counts, at); err != nil {
			t.Fatalf("ReportStreams: %v", err)
		}
	}
	check := func(what string, at time.Time, streams int64, replicas int) {
		t.Helper()
		f := figures(t, a, ev).FiguresAt(at)
		if f.OpenStreams != streams || f.Replicas != replicas {
			t.Fatalf("%s: %d streams from %d replicas, want %d from %d", what, f.OpenStreams, f.Replicas, streams, replicas)
		}
	}
	check("no report", now, 0, 0)
	report(a, "ra", map[string]int64{ev: 3, other: 7}, now)
	report(b, "rb", map[string]int64{ev: 2}, now.Add(time.Second))
	check("two reports", now.Add(time.Second), 5, 2)
	report(a, "ra", map[string]int64{ev: 4}, now.Add(2*time.Second))
	check("a newer report", now.Add(2*time.Second), 6, 2)
	check("rb silent for the TTL", now.Add(time.Second+queue.StreamReportTTL), 4, 1)
	report(a, "ra", map[string]int64{ev: 0}, now.Add(3*time.Second))
	check("ra withdrawn", now.Add(3*time.Second), 2, 1)
}
