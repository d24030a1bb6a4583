package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// feedStore is the embedded store with a change feed a test can make
// misbehave the way Redis pub/sub can: lose a share of the changes at random
// (lossRate), hold them back to deliver later as a slow network would, or
// lose them all (the gate), and re-establish subscriptions (resubscribe).
type feedStore struct {
	queue.Store
	mu       sync.Mutex
	rng      *rand.Rand
	lossRate float64
	gate     string // "", "hold" or "drop"
	held     []heldChange
	handlers []queue.ChangeHandler
	// failReads makes that many of the next session reads fail.
	failReads atomic.Int64
}

func (s *feedStore) Session(ctx context.Context, id string) (queue.Session, queue.Place, error) {
	if s.failReads.Add(-1) >= 0 {
		return queue.Session{}, queue.Place{}, errors.New("connection reset")
	}
	s.failReads.Store(0)
	return s.Store.Session(ctx, id)
}

type heldChange struct {
	h queue.ChangeHandler
	c queue.Change
}

func (s *feedStore) Subscribe(ctx context.Context, eventID string, h queue.ChangeHandler) error {
	s.mu.Lock()
	s.handlers = append(s.handlers, h)
	s.mu.Unlock()
	return s.Store.Subscribe(ctx, eventID, feedHandler{s, h})
}

// resubscribe tells every subscriber its subscription was re-established.
func (s *feedStore) resubscribe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.handlers {
		h.Subscribed()
	}
}

// set changes the gate; opening it delivers what was held.
func (s *feedStore) set(gate string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = gate
	if gate == "" {
		for _, hc := range s.held {
			hc.h.Change(hc.c)
		}
		s.held = nil
	}
}

type feedHandler struct {
	s *feedStore
	h queue.ChangeHandler
}

func (f feedHandler) Subscribed() { f.h.Subscribed() }

func (f feedHandler) Change(c queue.Change) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	switch {
	case f.s.gate == "hold":
		f.s.held = append(f.s.held, heldChange{f.h, c})
	case f.s.gate == "drop", f.s.rng != nil && f.s.rng.Float64() < f.s.lossRate:
	default:
		f.h.Change(c)
	}
}

// newService is a service on store whose events default to maxConcurrent
// slots, with a fan-out hub that flushes every 10ms and checks itself every
// second; tweak, if any, changes the service's configuration first.
func newService(t testing.TB, store queue.Store, maxConcurrent int64, tweak ...func(*queue.Config)) (*queue.Service, *fanout.Hub) {
	t.Helper()
	cfg := queue.Config{SessionTTL: time.Hour, DefaultMaxConcurrent: maxConcurrent}
	for _, f := range tweak {
		f(&cfg)
	}
	return queuetest.NewService(t, store, cfg, fanout.Config{Coalesce: 10 * time.Millisecond, Resync: time.Second})
}

// follow records the newest state each stream showed.
type follow struct {
	mu     sync.Mutex
	latest map[string]queue.View
	counts map[string]int
	ended  map[string]error
	// check, when set, replaces the check that no state is older than the
	// one before (prev, when had); called with mu held.
	check func(t testing.TB, id string, prev queue.View, had bool, v queue.View)
}

func newFollow() *follow {
	return &follow{latest: map[string]queue.View{}, counts: map[string]int{}, ended: map[string]error{}}
}

func (f *follow) watch(t testing.TB, ctx context.Context, svc *queue.Service, id string) {
	st, err := svc.Watch(ctx, id)
	if err != nil {
		t.Fatalf("Watch(%s): %v", id, err)
	}
	go func() {
		defer st.Close()
		for {
			v, err := st.Next(ctx)
			f.mu.Lock()
			if err != nil {
				f.ended[id] = err
				f.mu.Unlock()
				return
			}
			prev, had := f.latest[id]
			if f.check != nil {
				f.check(t, id, prev, had, v)
			} else if had && older(v, prev) {
				t.Errorf("%s: state %+v after newer %+v", id, v, prev)
			}
			f.latest[id] = v
			f.counts[id]++
			f.mu.Unlock()
		}
	}()
}

// older reports whether v is an older state than prev.
func older(v, prev queue.View) bool {
	if v.Session.Status != prev.Session.Status {
		return v.Session.Status == queue.StatusQueued
	}
	return v.Session.Status == queue.StatusQueued && v.Position > prev.Position
}

// TestHubConvergesDespiteLostChanges runs random joins, leaves and admissions
// while the feed loses a third of its messages and is re-established now and
// then: every stream still ends up showing exactly the store's truth, within
// a few resync intervals, and never goes backwards on the way.
func TestHubConvergesDespiteLostChanges(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &feedStore{Store: memstore.New(memstore.Config{}), rng: rand.New(rand.NewPCG(seed, 0)), lossRate: 0.35}
				svc, _ := newService(t, store, 3)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := newFollow()
				rng := rand.New(rand.NewPCG(seed, 1))
				var ids []string
				for i := 0; i < 40; i++ {
					v, _, err := svc.Join(ctx, fmt.Sprint("u", i), "show")
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, v.Session.ID)
					f.watch(t, ctx, svc, v.Session.ID)
				}
				for step := 0; step < 200; step++ {
					switch r := rng.IntN(10); {
					case r < 4:
						v, _, err := svc.Join(ctx, fmt.Sprint("late", step), "show")
						if err != nil {
							t.Fatal(err)
						}
						f.watch(t, ctx, svc, v.Session.ID)
						ids = append(ids, v.Session.ID)
					case r < 7:
						err := svc.Leave(ctx, ids[rng.IntN(len(ids))])
						if err != nil && !errors.Is(err, queue.ErrNotQueued) {
							t.Fatal(err)
						}
					case r < 8:
						err := svc.CompleteCheckout(ctx, ids[rng.IntN(len(ids))])
						if err != nil && !errors.Is(err, queue.ErrNotAdmitted) {
							t.Fatal(err)
						}
					case r < 9:
						if err := svc.ProcessOnce(ctx); err != nil {
							t.Fatal(err)
						}
					default:
						store.resubscribe()
					}
					time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
				}
				// Two resync intervals plus the grace: every lost change is
				// found by now.
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
					if got.Session.Status == queue.StatusReady && (s.Status == queue.StatusCompleted || s.Status == queue.StatusExpired) {
						// The stream ended at READY; checkout went on after.
						s.Status = queue.StatusReady
					}
					if got.Session.Status != s.Status || got.Position != pl.Position ||
						(s.Status == queue.StatusQueued && got.QueueLength != pl.QueueLength) {
						t.Errorf("%s: stream shows %v at %d of %d, store says %v at %d of %d",
							id, got.Session.Status, got.Position, got.QueueLength, s.Status, pl.Position, pl.QueueLength)
					}
					if s.Status.EndsStream() && f.ended[id] != io.EOF {
						t.Errorf("%s: %v but stream not ended (%v)", id, s.Status, f.ended[id])
					}
					if s.Status == queue.StatusReady && got.CheckoutToken == "" {
						t.Errorf("%s: READY without a token", id)
					}
				}
				cancel()
			})
		})
	}
}

// TestHubCoalescesAndSkipsUnchanged checks that a burst of changes reaches a
// stream as few messages, none of them a repeat, and that a change that does
// not alter what a stream shows sends it nothing.
func TestHubCoalescesAndSkipsUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		svc, _ := newService(t, store, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFollow()
		head, _, _ := svc.Join(ctx, "head", "burst")
		f.watch(t, ctx, svc, head.Session.ID)
		synctest.Wait()
		// 100 joins inside one coalescing window.
		for i := 0; i < 100; i++ {
			if _, _, err := svc.Join(ctx, fmt.Sprint("b", i), "burst"); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		f.mu.Lock()
		n, got := f.counts[head.Session.ID], f.latest[head.Session.ID]
		f.mu.Unlock()
		if got.QueueLength != 101 || got.Position != 1 {
			t.Fatalf("head shows %d of %d, want 1 of 101", got.Position, got.QueueLength)
		}
		if n != 2 {
			t.Fatalf("head got %d messages for one burst, want 2 (initial + one coalesced)", n)
		}
		// An admission elsewhere... none: capacity 1 admits the head only, so
		// the others' positions all move by one, once.
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		if v := f.latest[head.Session.ID]; v.Session.Status != queue.StatusReady || v.CheckoutToken == "" {
			t.Fatalf("head after admission: %+v", v)
		}
	})
}

// TestHubFindsALostLastChange loses the last change an event will see (an
// admission), after an earlier periodic check had seen a change in flight:
// the periodic check must still find the loss.
func TestHubFindsALostLastChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &feedStore{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, 100) // Resync every second
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFollow()
		last := joinN(t, ctx, svc, "lost", 3)[2]
		f.watch(t, ctx, svc, last)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		// A change still in flight when the check at 2s runs...
		store.set("hold")
		if _, _, err := svc.Join(ctx, "x", "lost"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond)
		synctest.Wait()
		// ...arrives within the grace period.
		store.set("")
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		// Then the admission of everyone is lost, and nothing follows it.
		store.set("drop")
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		if v := f.latest[last]; v.Session.Status != queue.StatusReady || v.CheckoutToken == "" {
			t.Fatalf("stream shows %v at %d after its admission was lost; want READY", v.Session.Status, v.Position)
		}
	})
}

// TestHubUnknownSessionStartsNothing checks that watching a made-up session
// id answers NotFound without subscribing to its (made-up) event, and that a
// stream on an ended session needs no view either.
func TestHubUnknownSessionStartsNothing(t *testing.T) {
	store := memstore.New(memstore.Config{})
	svc, hub := newService(t, store, 1)
	ctx := context.Background()
	for i := range 50 {
		_, err := svc.Watch(ctx, queue.NewSessionID(fmt.Sprint("nope", i)))
		if !errors.Is(err, queue.ErrSessionNotFound) {
			t.Fatalf("Watch on a made-up id: %v", err)
		}
	}
	v, _, _ := svc.Join(ctx, "u", "ended")
	if err := svc.Leave(ctx, v.Session.ID); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Watch(ctx, v.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.Next(ctx); err != nil || got.Session.Status != queue.StatusLeft {
		t.Fatalf("stream on a left session: %+v, %v", got.Session, err)
	}
	if _, err := st.Next(ctx); err != io.EOF {
		t.Fatalf("after LEFT: %v, want io.EOF", err)
	}
	if n := svc.OpenStreams(); n != 0 {
		t.Fatalf("%d watchers open", n)
	}
	if hub.Views() != 0 {
		t.Fatal("an event view was started for sessions that needed none")
	}

	// With the event's view running, a made-up id of that event is read once
	// (after registering): it still fails, and leaves no watcher behind.
	live, _, _ := svc.Join(ctx, "w", "live")
	first, err := svc.Watch(ctx, live.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := svc.Watch(ctx, queue.NewSessionID("live")); !errors.Is(err, queue.ErrSessionNotFound) {
		t.Fatalf("Watch on a made-up id of a watched event: %v", err)
	}
	if n := svc.OpenStreams(); n != 1 {
		t.Fatalf("%d watchers open, want the one real stream", n)
	}
}

// TestHubWatchDuringClose opens streams while the hub shuts down: every one
// of them ends, none hangs.
func TestHubWatchDuringClose(t *testing.T) {
	store := memstore.New(memstore.Config{})
	svc, _ := newService(t, store, 1)
	ctx := context.Background()
	var ids []string
	for i := range 200 {
		v, _, err := svc.Join(ctx, fmt.Sprint("u", i), "closing")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.Session.ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			st, err := svc.Watch(ctx, id)
			if err != nil {
				return // refused: the hub was already closed
			}
			defer st.Close()
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			for {
				if _, err := st.Next(wctx); err != nil {
					if errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s: stream still open 10s after Close", id)
					}
					return
				}
			}
		})
	}
	svc.Close()
	wg.Wait()
}

// joinN joins users u0, u1, ... to event and returns their session ids.
func joinN(t testing.TB, ctx context.Context, svc *queue.Service, event string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		v, _, err := svc.Join(ctx, fmt.Sprint("u", i), event)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = v.Session.ID
	}
	return ids
}

// countingStore counts the event and session reads made through it.
type countingStore struct {
	queue.Store
	eventReads, sessionReads atomic.Int64
}

func (s *countingStore) Session(ctx context.Context, id string) (queue.Session, queue.Place, error) {
	s.sessionReads.Add(1)
	return s.Store.Session(ctx, id)
}

func (s *countingStore) Event(ctx context.Context, id string) (queue.Event, queue.EventStats, error) {
	s.eventReads.Add(1)
	return s.Store.Event(ctx, id)
}

// TestAdmissionReadsNoEventPerStream: streams admitted at once complete their
// READY (checkout URL and token) from what the event's view knows, without a
// store read each. Thousands admitted in one tick would otherwise hit the store
// at its busiest, and a read that times out ended its stream.
func TestAdmissionReadsNoEventPerStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 50
		store := &countingStore{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, n)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "sale", State: queue.EventPaused, MaxConcurrent: n}); err != nil {
			t.Fatal(err)
		}
		f := newFollow()
		ids := joinN(t, ctx, svc, "sale", n)
		for _, id := range ids {
			f.watch(t, ctx, svc, id)
		}
		synctest.Wait()
		before := int(store.eventReads.Load())
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "sale", State: queue.EventActive, MaxConcurrent: n}); err != nil {
			t.Fatal(err)
		}
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, id := range ids {
			if v := f.latest[id]; v.Session.Status != queue.StatusReady || v.CheckoutToken == "" || v.CheckoutURL != "/checkout" {
				t.Fatalf("%s after admission: %v token=%t url=%q", id, v.Session.Status, v.CheckoutToken != "", v.CheckoutURL)
			}
		}
		if got := int(store.eventReads.Load()) - before; got > 1 {
			t.Errorf("%d event reads while admitting %d streams; want none per stream", got, n)
		}
	})
}

// TestStreamsOpenWithOneReadEach: once an event's view runs on a process,
// each further stream costs the store one session read (a crowd opening its
// streams at the start of a sale), not the two the first one needs. Streams
// opened that way still show the right state, including a session that has
// already ended.
func TestStreamsOpenWithOneReadEach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 50
		store := &countingStore{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ids := joinN(t, ctx, svc, "crowd", n)
		if err := svc.Leave(ctx, ids[n-1]); err != nil {
			t.Fatal(err)
		}
		f := newFollow()
		before := int(store.sessionReads.Load())
		for _, id := range ids {
			f.watch(t, ctx, svc, id)
		}
		synctest.Wait()
		if reads := int(store.sessionReads.Load()) - before; reads != n+1 {
			t.Errorf("opening %d streams read sessions %d times, want %d (two for the first, one each after)", n, reads, n+1)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, id := range ids[:n-1] {
			if v := f.latest[id]; v.Session.Status != queue.StatusQueued || v.Position != int64(i+1) || v.QueueLength != n-1 {
				t.Errorf("stream %d shows %v %d of %d, want queued %d of %d", i, v.Session.Status, v.Position, v.QueueLength, i+1, n-1)
			}
		}
		if v, err := f.latest[ids[n-1]], f.ended[ids[n-1]]; v.Session.Status != queue.StatusLeft || !errors.Is(err, io.EOF) {
			t.Errorf("the stream of a session that had left shows %v and ended with %v, want LEFT then EOF", v.Session.Status, err)
		}
	})
}

// TestStreamEndsWithItsContext: a stream parked waiting for its next state
// returns its context's error as soon as the context ends (a client gone),
// and a state already waiting is still handed over first.
func TestStreamEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, _ := newService(t, memstore.New(memstore.Config{}), 1)
		ctx := context.Background()
		ids := joinN(t, ctx, svc, "gone", 3)
		st, err := svc.Watch(ctx, ids[2])
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		sctx, cancel := context.WithCancel(ctx)
		if v, err := st.Next(sctx); err != nil || v.Position != 3 {
			t.Fatalf("first state: %+v, %v", v, err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := st.Next(sctx)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Next returned %v with nothing to show", err)
		default:
		}
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Next after cancel: %v, want context.Canceled", err)
			}
		default:
			t.Fatal("Next still waiting after its context ended")
		}

		// A newer state waiting in the mailbox comes before the error.
		if err := svc.Leave(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if v, err := st.Next(sctx); err != nil || v.Position != 2 {
			t.Fatalf("state waiting when the context had ended: %+v, %v", v, err)
		}
		if _, err := st.Next(sctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("then: %v, want context.Canceled", err)
		}
	})
}

// TestStreamSurvivesAFailedReread: a lost admission leaves a stream's
// session gone from the waiting set, so the view re-reads it; that read
// fails once. The re-read must be retried (at the next periodic check), or
// the stream would show its old place forever in a queue where nothing else
// changes.
func TestStreamSurvivesAFailedReread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &feedStore{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, 1)
		ctx := context.Background()
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "quiet", State: queue.EventPaused, MaxConcurrent: 1}); err != nil {
			t.Fatal(err)
		}
		id := joinN(t, ctx, svc, "quiet", 1)[0]
		st, err := svc.Watch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if v, err := st.Next(ctx); err != nil || v.Position != 1 {
			t.Fatalf("first state: %+v, %v", v, err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		store.set("drop") // the admission's change is lost
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "quiet", State: queue.EventActive, MaxConcurrent: 1}); err != nil {
			t.Fatal(err)
		}
		store.failReads.Store(1) // and the re-read that would find it fails once
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		store.set("")
		nctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		v, err := st.Next(nctx)
		if err != nil || v.Session.Status != queue.StatusReady || v.CheckoutToken == "" {
			t.Fatalf("after the admission: %v with token %q, %v; want READY", v.Session.Status, v.CheckoutToken, err)
		}
		if n := store.failReads.Load(); n != 0 {
			t.Fatalf("%d failures left unconsumed: the re-read never ran", n)
		}
	})
}

// restartStore is a store that loses everything at restart: from then on
// sessions, snapshots and event counts come from a fresh store.
type restartStore struct {
	queue.Store // before the restart
	after       atomic.Pointer[memstore.Store]
	// hold, when set, stops the next session read of holdID after it read
	// until hold is closed; later reads go through.
	mu     sync.Mutex
	holdID string
	hold   chan struct{}
}

func (s *restartStore) holdRead(id string, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdID, s.hold = id, release
}

func (s *restartStore) current() queue.Store {
	if a := s.after.Load(); a != nil {
		return a
	}
	return s.Store
}

func (s *restartStore) Session(ctx context.Context, id string) (queue.Session, queue.Place, error) {
	sess, pl, err := s.current().Session(ctx, id)
	s.mu.Lock()
	var hold chan struct{}
	if id == s.holdID {
		hold, s.hold = s.hold, nil
	}
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	return sess, pl, err
}

func (s *restartStore) Snapshot(ctx context.Context, eventID string) (queue.Snapshot, error) {
	return s.current().Snapshot(ctx, eventID)
}

func (s *restartStore) Event(ctx context.Context, id string) (queue.Event, queue.EventStats, error) {
	return s.current().Event(ctx, id)
}

// TestStreamOpenedAcrossAStoreRestart: a stream's first read is in flight
// when the store restarts empty-handed; the view, seeing the store's change
// sequence go backwards, re-reads every watched session, this one included.
// The stream must show what the restarted store says, not the read from
// before, which the view's sequence would not reach again for many changes.
func TestStreamOpenedAcrossAStoreRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &restartStore{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, 1)
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "lost", State: queue.EventPaused, MaxConcurrent: 1}); err != nil {
			t.Fatal(err)
		}
		ids := joinN(t, ctx, svc, "lost", 10)
		first, err := svc.Watch(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		if _, err := first.Next(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // the view has synced at seq 11
		synctest.Wait()

		release := make(chan struct{})
		store.holdRead(ids[5], release)
		opened := make(chan *queue.Stream, 1)
		go func() {
			st, err := svc.Watch(ctx, ids[5])
			if err != nil {
				t.Error(err)
			}
			opened <- st
		}()
		synctest.Wait() // its read (6th of 10, seq 11) is held

		// The restart: only ids[5] came back, alone in its queue.
		fresh := memstore.New(memstore.Config{})
		if _, err := fresh.PutEvent(ctx, queue.Event{ID: "lost", State: queue.EventPaused, MaxConcurrent: 1}); err != nil {
			t.Fatal(err)
		}
		was, _, _ := store.Store.Session(ctx, ids[5])
		if _, _, _, err := fresh.Join(ctx, queue.JoinParams{SessionID: ids[5], UserID: was.UserID, EventID: "lost", Now: time.Now(), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		store.after.Store(fresh)
		time.Sleep(3 * time.Second) // a periodic check finds seq 2 < 11, resyncs, re-reads
		synctest.Wait()
		close(release)
		st := <-opened
		if st == nil {
			return
		}
		defer st.Close()
		nctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		v, err := st.Next(nctx)
		if err != nil || v.Position != 1 || v.QueueLength != 1 {
			t.Fatalf("stream opened across the restart shows %d of %d (%v), want 1 of 1", v.Position, v.QueueLength, err)
		}
	})
}

// TestEstimatedWaitFollowsTheRate: a stream's estimated wait comes from the
// admissions its node has seen, including one whose change arrived after a
// resync's snapshot had covered it, and when admissions stop it goes back to
// unknown (0) rather than staying at the last figure.
func TestEstimatedWaitFollowsTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &feedStore{Store: memstore.New(memstore.Config{})}
		svc, _ := newService(t, store, 1)
		ctx := context.Background()
		ids := joinN(t, ctx, svc, "rate", 3)
		st, err := svc.Watch(ctx, ids[2])
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if v, err := st.Next(ctx); err != nil || v.Position != 3 {
			t.Fatalf("first state: %+v, %v", v, err)
		}
		time.Sleep(time.Second)
		synctest.Wait()

		// The admission's change is held up; meanwhile the subscription is
		// re-established and the view resynchronises past it.
		store.set("hold")
		if err := svc.ProcessOnce(ctx); err != nil {
			t.Fatal(err)
		}
		store.resubscribe()
		time.Sleep(time.Second)
		synctest.Wait()
		store.set("") // now it arrives, already covered
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var v queue.View
		for v.Position != 2 || v.EstimatedWait == 0 {
			nctx, cancel := context.WithTimeout(ctx, time.Second)
			v, err = st.Next(nctx)
			cancel()
			if err != nil {
				t.Fatalf("no known wait at position 2 after an admission (last: position %d, wait %v): %v", v.Position, v.EstimatedWait, err)
			}
		}

		// No more admissions: the event is paused.
		if _, err := svc.PutEvent(ctx, queue.Event{ID: "rate", State: queue.EventPaused, MaxConcurrent: 1}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		nctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if v, err = st.Next(nctx); err != nil || v.Position != 2 || v.EstimatedWait != 0 {
			t.Fatalf("two minutes without admissions: position %d, wait %v (%v); want 2 and unknown", v.Position, v.EstimatedWait, err)
		}
	})
}

// TestZeroConfigsWork: a hub and a service built from zero configs run with
// their defaults, from a join through the processor to READY on a stream.
func TestZeroConfigsWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := memstore.New(memstore.Config{})
		hub := fanout.New(store, fanout.Config{})
		svc := queue.NewService(store, queuetest.Tokens{}, hub, queue.Config{})
		defer svc.Close()
		v, created, err := svc.Join(ctx, "u1", "zero")
		if err != nil || !created || v.Position != 1 {
			t.Fatalf("Join: %+v created=%t err=%v", v, created, err)
		}
		st, err := svc.Watch(ctx, v.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if first, err := st.Next(ctx); err != nil || first.Position != 1 {
			t.Fatalf("first state %+v, %v", first, err)
		}
		pctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.RunProcessor(pctx) }()
		got, err := st.Next(ctx)
		stop()
		if err != nil || got.Session.Status != queue.StatusReady || got.CheckoutToken == "" || got.CheckoutURL != queue.DefaultCheckoutURL {
			t.Fatalf("after a processor tick: %+v, %v", got, err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestStreamsEndAtTheirMaximumAge: a stream ends with ErrStreamMaxAge about
// MaxAge after it opened (within ±10% and one Resync), having shown every
// state until then; with MaxAge negative it stays open.
func TestStreamsEndAtTheirMaximumAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := memstore.New(memstore.Config{})
		hub := fanout.New(store, fanout.Config{Resync: time.Second, MaxAge: time.Minute, Heartbeat: -1})
		svc := queue.NewService(store, queuetest.Tokens{}, hub, queue.Config{})
		defer svc.Close()
		v, _, err := svc.Join(ctx, "u1", "ages")
		if err != nil {
			t.Fatal(err)
		}
		st, err := svc.Watch(ctx, v.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Next(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = st.Next(ctx)
		if age := time.Since(start); !errors.Is(err, queue.ErrStreamMaxAge) || age < 54*time.Second || age > 67*time.Second {
			t.Fatalf("after %v: %v, want ErrStreamMaxAge at 1m ±10%% (+1 Resync)", age, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := memstore.New(memstore.Config{})
		hub := fanout.New(store, fanout.Config{Resync: time.Second, MaxAge: -1, Heartbeat: -1})
		svc := queue.NewService(store, queuetest.Tokens{}, hub, queue.Config{})
		defer svc.Close()
		v, _, _ := svc.Join(ctx, "u1", "ages")
		st, err := svc.Watch(ctx, v.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		st.Next(ctx)
		wctx, cancel := context.WithTimeout(ctx, 24*time.Hour)
		defer cancel()
		if _, err := st.Next(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("with no maximum age: %v, want the stream still open after a day", err)
		}
	})
}
