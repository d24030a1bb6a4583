package fanout_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// TestCadenceNeverLate holds the cadence to its promise on a clock that
// only the test moves, so that no scheduling delay can excuse a miss: while
// the queue changes every 300ms (two joins at the tail, then the head
// leaves), every change reaches each stream, wherever it stands, within the
// interval of the position that stream showed last plus one coalescing
// window (the flush after the wake-up). This is the check the load tool
// makes, without its slack.
func TestCadenceNeverLate(t *testing.T) {
	for _, period := range []time.Duration{300 * time.Millisecond, 370 * time.Millisecond, time.Second} {
		t.Run(period.String(), func(t *testing.T) { testCadenceNeverLate(t, period) })
	}
}

func testCadenceNeverLate(t *testing.T, period time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		cad := fanout.Cadence{Coalesce: 100 * time.Millisecond, RealtimePositions: 100, MaxInterval: 5 * time.Second}
		store := memstore.New(memstore.Config{})
		svc, _ := queuetest.NewService(t, store, queue.Config{SessionTTL: time.Hour},
			fanout.Config{Coalesce: cad.Coalesce, Resync: time.Hour, RealtimePositions: cad.RealtimePositions,
				MaxInterval: cad.MaxInterval})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		const n = 800
		ids := joinN(t, ctx, svc, "late", n)
		watched := []int{50, 101, 150, 230, 300, 410, 520, 640, 800} // positions
		type msg struct {
			at       time.Time
			pos, len int64
		}
		var mu sync.Mutex
		got := make([][]msg, len(watched))
		for i, p := range watched {
			st, err := svc.Watch(ctx, ids[p-1])
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer st.Close()
				for {
					v, err := st.Next(ctx)
					if err != nil {
						return
					}
					mu.Lock()
					got[i] = append(got[i], msg{time.Now(), v.Position, v.QueueLength})
					mu.Unlock()
				}
			}()
		}
		time.Sleep(6 * time.Second) // past every first interval
		synctest.Wait()

		// The changes, and the state each leaves each stream in.
		type change struct {
			at        time.Time
			shift, ln int64 // streams' positions move up by shift; the queue is ln long
		}
		var changes []change
		ln, head, shift := int64(n), 0, int64(0)
		for k := range 60 {
			if k%3 == 2 {
				if err := svc.Leave(ctx, ids[head]); err != nil {
					t.Fatal(err)
				}
				head++
				shift++
				ln--
			} else {
				if _, _, err := svc.Join(ctx, fmt.Sprint("tail", k), "late"); err != nil {
					t.Fatal(err)
				}
				ln++
			}
			changes = append(changes, change{time.Now(), shift, ln})
			time.Sleep(period)
			synctest.Wait()
		}
		time.Sleep(cad.MaxInterval + time.Second)
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		for i, p0 := range watched {
			ms := got[i]
			if len(ms) == 0 {
				t.Fatalf("stream at %d got nothing", p0)
			}
			// Each change is shown by the first message at or past its state;
			// (position, length) never repeats, so the match is exact.
			m, shown := 0, int64(p0)
			for m < len(ms) && ms[m].at.Before(changes[0].at) {
				shown = ms[m].pos
				m++
			}
			worst := -time.Hour
			for k, c := range changes {
				want := int64(p0) - c.shift
				for m < len(ms) && (ms[m].pos > want || ms[m].pos == want && ms[m].len < c.ln) {
					shown = ms[m].pos
					m++
				}
				if m == len(ms) {
					t.Fatalf("stream at %d never showed change %d (%d of %d)", p0, k, want, c.ln)
				}
				late := ms[m].at.Sub(c.at) - cad.Interval(shown) - cad.Coalesce
				worst = max(worst, late)
				if late > 0 {
					t.Errorf("stream at %d (showing %d): change %d shown %s after it, %s past interval %s + coalesce",
						p0, shown, k, ms[m].at.Sub(c.at), late, cad.Interval(shown))
				}
			}
			t.Logf("stream from %d: %d messages, worst %s against interval + coalesce", p0, len(ms), worst)
		}
	})
}
