package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// TestHubLanes: with lanes, and a feed that loses changes, every stream
// ends up showing the store's exact lane-aware position, and a position
// that moves back says so.
func TestHubLanes(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &feedStore{Store: memstore.New(memstore.Config{}), rng: rand.New(rand.NewPCG(seed, 0)), lossRate: 0.2}
				svc, _ := newService(t, store, 3)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ls := []lanes.Lane{{Name: "vip", Weight: 3}, {Name: "general", Weight: 1}, {Name: "members", Weight: 2}}
				if _, err := svc.PutEvent(ctx, queue.Event{ID: "show", MaxConcurrent: 3, Lanes: ls}); err != nil {
					t.Fatal(err)
				}
				f := newLaneFollow()
				rng := rand.New(rand.NewPCG(seed, 1))
				var ids []string
				joinOne := func(user string) {
					v, _, err := svc.JoinLane(ctx, user, "show", ls[rng.IntN(len(ls))].Name)
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, v.Session.ID)
					f.watch(t, ctx, svc, v.Session.ID)
				}
				for i := range 30 {
					joinOne(fmt.Sprint("u", i))
				}
				for step := range 150 {
					switch r := rng.IntN(10); {
					case r < 5:
						joinOne(fmt.Sprint("late", step))
					case r < 7:
						if err := svc.Leave(ctx, ids[rng.IntN(len(ids))]); err != nil && !errors.Is(err, queue.ErrNotQueued) {
							t.Fatal(err)
						}
					case r < 8:
						if err := svc.CompleteCheckout(ctx, ids[rng.IntN(len(ids))]); err != nil && !errors.Is(err, queue.ErrNotAdmitted) {
							t.Fatal(err)
						}
					default:
						if err := svc.ProcessOnce(ctx); err != nil {
							t.Fatal(err)
						}
					}
					time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
				}
				time.Sleep(3 * time.Second)
				synctest.Wait()
				f.mu.Lock()
				defer f.mu.Unlock()
				for _, id := range ids {
					s, pl, err := store.Session(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					got := f.latest[id]
					if s.Status != queue.StatusQueued {
						continue
					}
					if got.Position != pl.Position || got.QueueLength != pl.QueueLength || got.Session.Lane != s.Lane {
						t.Errorf("%s (lane %s): stream shows %d of %d (lane %q), store says %d of %d", id, s.Lane, got.Position, got.QueueLength, got.Session.Lane, pl.Position, pl.QueueLength)
					}
				}
				if f.movedBack == 0 {
					t.Error("no stream was told it moved back, though higher lanes grew ahead of lower ones")
				}
				cancel()
			})
		})
	}
}

// laneFollow is follow that lets a position grow only when the state says
// it moved back.
type laneFollow struct {
	*follow
	movedBack int
}

func newLaneFollow() *laneFollow {
	lf := &laneFollow{follow: newFollow()}
	lf.check = func(t testing.TB, id string, prev queue.View, had bool, v queue.View) {
		grew := had && v.Session.Status == queue.StatusQueued && prev.Session.Status == queue.StatusQueued && v.Position > prev.Position
		if grew != v.MovedBack && !v.Heartbeat {
			t.Errorf("%s: position %d after %d with MovedBack %v", id, v.Position, prev.Position, v.MovedBack)
		}
		if v.MovedBack {
			lf.movedBack++
		}
	}
	return lf
}

// TestHubLanesFairStart: a placement in an event with lanes deals the
// pre-queue's tickets across lanes; every stream then shows the store's
// lane-aware position.
func TestHubLanesFairStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		now := time.Now()
		start := now.Add(time.Hour)
		svc, _ := newService(t, store, 2, func(c *queue.Config) {
			c.Now = func() time.Time { return now }
			c.PresenceGrace = -1
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ls := []lanes.Lane{{Name: "vip", Weight: 2}, {Name: "general", Weight: 1}}
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "fair", MaxConcurrent: 2, Lanes: ls, FairStart: queue.FairStart{SaleStartsAt: start}}); err != nil {
			t.Fatal(err)
		}
		f := newFollow()
		var ids []string
		for i := range 24 {
			v, _, err := svc.JoinLane(ctx, fmt.Sprint("u", i), "fair", ls[i%3/2].Name)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.Session.ID)
		}
		// Watched once the pre-queue is complete: its bound grows with it.
		for _, id := range ids {
			f.watch(t, ctx, svc, id)
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		now = start
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range ids {
			s, pl, err := store.Session(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got := f.latest[id]
			if got.Session.Status != s.Status || got.Position != pl.Position {
				t.Errorf("%s (lane %s): stream shows %v at %d, store says %v at %d", id, s.Lane, got.Session.Status, got.Position, s.Status, pl.Position)
			}
		}
	})
}

// snapCounter counts the snapshots a view takes: each is a resync.
type snapCounter struct {
	queue.Store
	n atomic.Int64
}

func (s *snapCounter) Snapshot(ctx context.Context, eventID string) (queue.Snapshot, error) {
	s.n.Add(1)
	return s.Store.Snapshot(ctx, eventID)
}

// TestHubLanesChangedAlone: lanes reweighted in a paused event move
// positions without a change on the feed; the view's periodic check finds
// them and every open stream shows the new positions within the resync
// period, after one resync and no more.
func TestHubLanesChangedAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &snapCounter{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, 1) // Resync 1s
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		put := func(ls []lanes.Lane) {
			t.Helper()
			if _, err := svc.PutEvent(ctx, queue.Event{ID: "re", MaxConcurrent: 1, Lanes: ls}); err != nil {
				t.Fatal(err)
			}
		}
		put([]lanes.Lane{{Name: "vip", Weight: 1}, {Name: "general", Weight: 1}})
		f := newLaneFollow() // positions grow when lanes are reweighted
		var ids []string
		for i := range 12 {
			v, _, err := svc.JoinLane(ctx, fmt.Sprint("u", i), "re", []string{"general", "vip"}[i%2])
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, v.Session.ID)
			f.watch(t, ctx, svc, v.Session.ID)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		before := store.n.Load()
		put([]lanes.Lane{{Name: "vip", Weight: 5}, {Name: "general", Weight: 1}})
		// stale lists the streams whose position differs from the store's.
		stale := func() []string {
			t.Helper()
			f.mu.Lock()
			defer f.mu.Unlock()
			var out []string
			for _, id := range ids {
				_, pl, err := store.Session(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got := f.latest[id]; got.Position != pl.Position {
					out = append(out, fmt.Sprintf("%s shows %d, store says %d", id, got.Position, pl.Position))
				}
			}
			return out
		}
		if len(stale()) == 0 {
			t.Fatal("reweighting the lanes moved no position: the test shows nothing")
		}
		time.Sleep(1500 * time.Millisecond) // the resync period and a flush
		synctest.Wait()
		if s := stale(); len(s) > 0 {
			t.Errorf("%d streams kept their positions from before the lanes changed, e.g. %s", len(s), s[0])
		}
		after := store.n.Load()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if after != before+1 || store.n.Load() != after {
			t.Errorf("snapshots: %d before the change, %d after it, %d five checks later; want one resync", before, after, store.n.Load())
		}
	})
}
