package queue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// countingStore counts the store calls a processor pass makes, and the
// events they name.
type countingStore struct {
	queue.Store
	mu     sync.Mutex
	calls  map[string]int
	events map[string]bool
}

func (c *countingStore) count(method, eventID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[method]++
	if eventID != "" {
		c.events[eventID] = true
	}
}

// reset starts counting afresh and returns what was counted.
func (c *countingStore) reset() (calls map[string]int, events map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, events = c.calls, c.events
	c.calls, c.events = map[string]int{}, map[string]bool{}
	return calls, events
}

func (c *countingStore) LiveEvents(ctx context.Context) ([]queue.Event, error) {
	c.count("LiveEvents", "")
	return c.Store.LiveEvents(ctx)
}

func (c *countingStore) Events(ctx context.Context) ([]queue.Event, error) {
	c.count("Events", "")
	return c.Store.Events(ctx)
}

func (c *countingStore) Expire(ctx context.Context, ev string, now time.Time, limit int) ([]queue.Session, error) {
	c.count("Expire", ev)
	return c.Store.Expire(ctx, ev, now, limit)
}

func (c *countingStore) Admit(ctx context.Context, ev string, now time.Time, limit int) ([]queue.Session, error) {
	c.count("Admit", ev)
	return c.Store.Admit(ctx, ev, now, limit)
}

// AdmitPresent is the processor's admission call while presence is on.
func (c *countingStore) AdmitPresent(ctx context.Context, ev string, now time.Time, limit int, p queue.PresenceRule) ([]queue.Session, error) {
	c.count("Admit", ev)
	return c.Store.AdmitPresent(ctx, ev, now, limit, p)
}

func (c *countingStore) ForgetIdle(ctx context.Context, now time.Time, idleFor time.Duration, limit int) (int, error) {
	c.count("ForgetIdle", "")
	return c.Store.ForgetIdle(ctx, now, idleFor, limit)
}

func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// IdleWorld is 10,000 joins to made-up event ids on a service whose clock
// the test moves; pass runs one processor pass at the clock's time.
type idleWorld struct {
	t     *testing.T
	svc   *queue.Service
	store *countingStore
	mu    sync.Mutex
	now   time.Time
}

const (
	madeUp  = 10_000
	idleTTL = 10 * time.Minute
)

func newIdleWorld(t *testing.T, store queue.Store) *idleWorld {
	w := &idleWorld{t: t, store: &countingStore{Store: store}, now: time.Now().UTC().Truncate(time.Millisecond)}
	w.store.reset()
	w.svc, _ = queuetest.NewService(t, w.store, queue.Config{
		SessionTTL: time.Minute, CheckoutWindow: time.Minute, EventIdleTTL: idleTTL,
		Now: func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now },
	}, fanout.Config{})
	return w
}

func (w *idleWorld) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *idleWorld) pass() (calls map[string]int, events map[string]bool) {
	w.t.Helper()
	w.store.reset()
	if err := w.svc.ProcessOnce(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	return w.store.reset()
}

// joinMadeUp joins one user to each of madeUp random event ids, 16 at a time.
func (w *idleWorld) joinMadeUp() {
	w.t.Helper()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < madeUp; i += 16 {
				if _, _, err := w.svc.Join(context.Background(), "u", fmt.Sprintf("made-up-%05d", i)); err != nil {
					w.t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// run drives the world to the state the test measures: every made-up
// event's session ended, 2×idleTTL passed, the events forgotten, and a few
// real events live. It returns the store calls of the first pass (all
// events live), of a pass with everything idle, and of the last pass.
func (w *idleWorld) run(live int) (first, idle, last map[string]int, lastEvents map[string]bool) {
	w.t.Helper()
	w.joinMadeUp()
	first, _ = w.pass() // admits each event's one session
	w.advance(2 * time.Minute)
	w.pass() // their checkout windows have closed: all expire
	idle, _ = w.pass()
	w.advance(2 * idleTTL)
	for range madeUp/256 + 2 {
		w.pass()
	}
	for i := range live {
		if _, _, err := w.svc.Join(context.Background(), "v", fmt.Sprintf("real-%d", i)); err != nil {
			w.t.Fatal(err)
		}
	}
	last, lastEvents = w.pass()
	return first, idle, last, lastEvents
}

// checkIdleCost checks that, after 10,000 joins to made-up event ids and
// 2×idleTTL, a pass costs the store calls of the live events alone.
func checkIdleCost(t *testing.T, w *idleWorld, live int) {
	first, idle, last, lastEvents := w.run(live)
	t.Logf("store calls per pass with %d made-up events live: %d %v", madeUp, total(first), first)
	t.Logf("with all %d idle, not yet forgotten: %d %v", madeUp, total(idle), idle)
	t.Logf("after 2×QUEUE_EVENT_IDLE_TTL, %d live events: %d %v", live, total(last), last)
	if total(idle) != 2 {
		t.Errorf("a pass over idle events made %v, want LiveEvents and ForgetIdle alone", idle)
	}
	// LiveEvents, ForgetIdle, and an Expire and an Admit per live event.
	if total(last) != 2+2*live || len(lastEvents) != live {
		t.Errorf("a pass with %d live events made %v naming %d events, want %d calls naming %d",
			live, last, len(lastEvents), 2+2*live, live)
	}
	for ev := range lastEvents {
		if ev[:4] != "real" {
			t.Errorf("a pass touched %s, which has nothing live", ev)
		}
	}
	all, err := w.svc.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != live {
		t.Errorf("%d events known after 2×QUEUE_EVENT_IDLE_TTL, want the %d live ones", len(all), live)
	}
}

// TestIdleEventsCostNothing: on the embedded store.
func TestIdleEventsCostNothing(t *testing.T) {
	checkIdleCost(t, newIdleWorld(t, memstore.New(memstore.Config{})), 5)
}

// TestIdleEventsCostNothingRedis: on Redis, counting Redis commands too.
func TestIdleEventsCostNothingRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 joins on Redis")
	}
	srv := redistest.Start(t)
	st, err := redisstore.Dial(t.Context(), []string{srv.Addr()}, redisstore.Config{Timeout: time.Minute}) // -race on 2 shared cores
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	w := newIdleWorld(t, st)
	const live = 5
	checkIdleCost(t, w, live)

	// The pass again, counting Redis commands: the sweep's next page is an
	// hour off, as it is for all but one pass in sweepEvery.
	w.pass()
	before := srv.CommandStats()
	w.pass()
	cmds := redistest.CommandDelta(before, srv.CommandStats(), "info", "ping")
	t.Logf("Redis commands per pass with %d live events after %d made-up ones: %s", live, madeUp, redistest.FormatCommands(cmds))
	n := int64(0)
	for _, v := range cmds {
		n += v
	}
	// SMEMBERS and ZRANGEBYSCORE, then per live event its two scripts
	// (each under a dozen commands inside), nothing per forgotten event.
	if cmds["evalsha"] != 2*live || n > 2+2*live*12 {
		t.Errorf("a pass cost %d Redis commands (%v), want 2 scripts per live event and no more than %d in all", n, cmds, 2+2*live*12)
	}
	if keys := srv.MustString("DBSIZE"); keys == "" {
		t.Fatal("no DBSIZE")
	} else {
		t.Logf("keys left in Redis: %s (the live events'; a seq counter per forgotten event; ended sessions, which expire by themselves after the session TTL)", keys)
	}
}
