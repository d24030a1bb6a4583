package fanout_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// TestCadenceSpacesTheFarStreams joins one session every 10ms for 200ms
// behind two streams: the one at the head (real time) is told each join, the
// one at position 10 (interval 10ms × (10/2)² = 250ms, which may go up to
// half early) far less often, and both show the exact final state once the joins stop, the far
// one within its interval. Its own end (LEFT) is never held back.
func TestCadenceSpacesTheFarStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		svc, hub := queuetest.NewService(t, store, queue.Config{SessionTTL: time.Hour, DefaultMaxConcurrent: 0},
			fanout.Config{Coalesce: 10 * time.Millisecond, Resync: time.Second, RealtimePositions: 2, MaxInterval: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids := joinN(t, ctx, svc, "cadence", 10)
		near, far := ids[0], ids[9]
		f := newFollow()
		f.watch(t, ctx, svc, near)
		f.watch(t, ctx, svc, far)
		synctest.Wait()
		for i := range 20 {
			if _, _, err := svc.Join(ctx, fmt.Sprint("late", i), "cadence"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
		}
		time.Sleep(250*time.Millisecond + 250*time.Millisecond) // the interval and the wake-up grid
		synctest.Wait()
		f.mu.Lock()
		nearN, farN := f.counts[near], f.counts[far]
		nearV, farV := f.latest[near], f.latest[far]
		f.mu.Unlock()
		if nearV.QueueLength != 30 || nearV.Position != 1 || farV.QueueLength != 30 || farV.Position != 10 {
			t.Fatalf("final states: near %d of %d, far %d of %d; want 1 and 10 of 30",
				nearV.Position, nearV.QueueLength, farV.Position, farV.QueueLength)
		}
		if nearN != 21 {
			t.Errorf("near stream got %d messages, want 21 (first state and each join)", nearN)
		}
		// First state, then at most one per 125ms of 200ms of joins, the
		// last among them: 3 at most.
		if farN > 3 || farN < 2 {
			t.Errorf("far stream got %d messages, want 2 or 3", farN)
		}
		if held := hub.Cadence().Held; held == 0 {
			t.Error("no message counted as held back")
		}

		// A join holds the far stream back again; its leaving is not.
		if _, _, err := svc.Join(ctx, "one-more", "cadence"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if err := svc.Leave(ctx, far); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		if v := f.latest[far]; v.Session.Status != queue.StatusLeft {
			t.Fatalf("far stream after leaving shows %v, want LEFT at once", v.Session.Status)
		}
	})
}

// TestCadenceHeldStateReplacesHeartbeat: a stream due for a heartbeat while
// the cadence holds a new state back from it gets that state, not its old
// one vouched for again.
func TestCadenceHeldStateReplacesHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		// Position 10 with one realtime position: a 1s interval.
		svc, _ := queuetest.NewService(t, store, queue.Config{SessionTTL: time.Hour},
			fanout.Config{Coalesce: 10 * time.Millisecond, Resync: time.Second, RealtimePositions: 1,
				MaxInterval: time.Second, Heartbeat: 100 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids := joinN(t, ctx, svc, "beat", 10)
		f := newFollow()
		f.watch(t, ctx, svc, ids[9])
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if _, _, err := svc.Join(ctx, "late", "beat"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // past the heartbeat, well inside the interval
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		// Without the heartbeat it would still show 10 of 10, vouched for
		// by a heartbeat, until the interval passed.
		if v := f.latest[ids[9]]; v.QueueLength != 11 {
			t.Fatalf("stream shows %d of %d (heartbeat %t), want the held-back 10 of 11", v.Position, v.QueueLength, v.Heartbeat)
		}
	})
}

// TestParkedStreamKeepsTheOldestMissedChange: a stream held back is parked,
// so flushes pass it by; when its interval ends, its message still carries
// the time of the first change it missed (View.ChangedAt), not of the last,
// and shows the exact state.
func TestParkedStreamKeepsTheOldestMissedChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		// Position 10 with one realtime position: a 1s interval (sent up to
		// 250ms early).
		svc, hub := queuetest.NewService(t, store, queue.Config{SessionTTL: time.Hour},
			fanout.Config{Coalesce: 10 * time.Millisecond, Resync: time.Second, RealtimePositions: 1, MaxInterval: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids := joinN(t, ctx, svc, "park", 10)
		f := newFollow()
		f.watch(t, ctx, svc, ids[9])
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if n := hub.Cadence().Parked; n != 1 {
			t.Fatalf("%d streams parked after the first state, want 1", n)
		}
		firstMissed := time.Now()
		for i := range 3 {
			if _, _, err := svc.Join(ctx, fmt.Sprint("late", i), "park"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		f.mu.Lock()
		n := f.counts[ids[9]]
		f.mu.Unlock()
		if n != 1 {
			t.Fatalf("the parked stream got %d messages inside its interval, want 1 (its first)", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		v := f.latest[ids[9]]
		if f.counts[ids[9]] != 2 || v.Position != 10 || v.QueueLength != 13 {
			t.Fatalf("after its interval: %d messages, showing %d of %d; want 2, 10 of 13", f.counts[ids[9]], v.Position, v.QueueLength)
		}
		if !v.ChangedAt.Equal(firstMissed) {
			t.Fatalf("message says its oldest change was at %v, want the first missed join at %v", v.ChangedAt, firstMissed)
		}
	})
}

// TestCadenceSpreadsAQuietCrowd: 200 far streams, quiet past their
// interval, see one join. They are not all sent it in the flush that finds
// it (a wave the size of the crowd at every interval from then on): each
// goes at its own phase of its interval, and every one shows the join, as
// the message that carries the join's time, within the interval and the
// wake-up grid.
func TestCadenceSpreadsAQuietCrowd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		// One realtime position: positions 10 and beyond have the 1s cap
		// (sent up to 250ms early).
		svc, _ := queuetest.NewService(t, store, queue.Config{SessionTTL: time.Hour},
			fanout.Config{Coalesce: 10 * time.Millisecond, Resync: time.Minute, RealtimePositions: 1, MaxInterval: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const n = 200
		ids := joinN(t, ctx, svc, "spread", n+9)[9:]
		f := newFollow()
		for _, id := range ids {
			f.watch(t, ctx, svc, id)
		}
		time.Sleep(2 * time.Second) // past every interval
		synctest.Wait()
		joined := time.Now()
		if _, _, err := svc.Join(ctx, "late", "spread"); err != nil {
			t.Fatal(err)
		}
		shown := func() (int, []string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			k, wrong := 0, []string(nil)
			for _, id := range ids {
				v := f.latest[id]
				if v.QueueLength != n+10 {
					continue
				}
				k++
				if !v.ChangedAt.Equal(joined) {
					wrong = append(wrong, fmt.Sprintf("%s: changed at %v, want %v", id, v.ChangedAt, joined))
				}
			}
			return k, wrong
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if k, _ := shown(); k > n/4 {
			t.Errorf("%d of %d quiet streams were sent the join within 50ms; want their phases to spread them over the interval", k, n)
		}
		time.Sleep(time.Second - 50*time.Millisecond) // the interval shortened, and the grid
		synctest.Wait()
		k, wrong := shown()
		if k != n {
			t.Fatalf("%d of %d streams show the join 1s after it, want all", k, n)
		}
		if len(wrong) > 0 {
			t.Fatalf("%d messages lost the join's time; e.g. %s", len(wrong), wrong[0])
		}
	})
}

// TestEndsSkipTheCoalescingWindow: READY reaches its stream as soon as the
// view hears of the admission, not at the end of the coalescing window the
// positions it moved wait for.
func TestEndsSkipTheCoalescingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		svc, _ := queuetest.NewService(t, store, queue.Config{SessionTTL: time.Hour, DefaultMaxConcurrent: 1},
			fanout.Config{Coalesce: time.Second, Resync: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids := joinN(t, ctx, svc, "ends", 3)
		f := newFollow()
		for _, id := range ids {
			f.watch(t, ctx, svc, id)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// A join now is flushed at once (the window passed long ago) and
		// opens a window: the next flush is a second away. A second join
		// inside it sets the loop waiting for the window's end.
		for _, user := range []string{"late", "later"} {
			if _, _, err := svc.Join(ctx, user, "ends"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
		}
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		latest := func(id string) queue.View {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.latest[id]
		}
		if v := latest(ids[0]); v.Session.Status != queue.StatusReady {
			t.Fatalf("10ms after its admission, inside the window: %v at %d; want READY", v.Session.Status, v.Position)
		}
		if v := latest(ids[1]); v.Position != 2 || v.QueueLength != 4 {
			t.Fatalf("the second in line shows %d of %d inside the window; want 2 of 4 until it ends", v.Position, v.QueueLength)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if v := latest(ids[1]); v.Position != 1 || v.QueueLength != 4 {
			t.Fatalf("after the window the second in line shows %d of %d; want 1 of 4", v.Position, v.QueueLength)
		}
	})
}
