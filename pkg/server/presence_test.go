package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// testClock is a clock the replicas of a test share and the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Now().UTC().Truncate(time.Millisecond)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// presenceConfig is a Redis replica whose domain clock is clock, with
// presence on (the default grace and absent TTL).
func presenceConfig(t *testing.T, clock *testClock, addrs ...string) server.Config {
	cfg := redisConfig(t, addrs...)
	cfg.Queue.Now = clock.Now
	return cfg
}

// TestPresenceAcrossReplicas: streams on replica A keep their sessions
// present for replica B's processor, which passes over a head with no
// stream anywhere; the absent head's place is held, its stream says so
// when it comes back, and it is admitted first.
func TestPresenceAcrossReplicas(t *testing.T) {
	r := redistest.Start(t)
	clock := newTestClock()
	cfg := presenceConfig(t, clock, r.Addr())
	a, b := startServer(t, cfg), startServer(t, cfg)
	ca, cb := protocols()[1].client(a), protocols()[0].client(b)

	away := join(t, cb, "away", "presence")
	here := join(t, cb, "here", "presence")
	later := join(t, cb, "later", "presence")
	sHere := openStream(t, ca, here.SessionId)
	sHere.until(describe(2, 3), queued(2, 3))

	// Past the grace of the joins and of the stream's opening: only A's
	// refresh of its streams keeps "here" present.
	clock.advance(3 * time.Minute)
	if err := a.Service().RefreshPresence(context.Background()); err != nil {
		t.Fatal(err)
	}
	process(t, b)
	sHere.until("admission past the absent head", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
	sHere.ended()
	heldUntil := clock.Now().Add(15 * time.Minute)

	// The one behind the held head still counts it: position 2 of 2.
	sLater := openStream(t, ca, later.SessionId)
	if m := sLater.until(describe(2, 2), queued(2, 2)); m.GetHeld() {
		t.Fatalf("a session never passed over shows held: %v", m)
	}
	// The absent visitor comes back: the first message says the place was held.
	sAway := openStream(t, cb, away.SessionId)
	m := sAway.next()
	if !m.GetHeld() || !m.GetHeldUntil().AsTime().Equal(heldUntil) || m.GetPosition() != 1 || m.GetQueueLength() != 2 {
		t.Fatalf("first message of the held session = %v, want held until %v at 1 of 2", m, heldUntil)
	}
	// A slot frees up: the held session, present again, goes first.
	if _, err := cb.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: here.SessionId})); err != nil {
		t.Fatal(err)
	}
	process(t, a)
	if m := sAway.until("admission of the returning session", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY)); m.GetHeld() {
		t.Fatalf("READY still says held: %v", m)
	}
	sLater.until(describe(1, 1), queued(1, 1))
}

// TestPresenceExpiresAbsent: a held session that never comes back expires
// at its held_until; the one behind it moves up.
func TestPresenceExpiresAbsent(t *testing.T) {
	clock := newTestClock()
	cfg := server.Config{}
	cfg.Queue.Now = clock.Now
	cfg.Queue.DefaultMaxConcurrent = 2
	ts := startServer(t, cfg)
	c := protocols()[0].client(ts)
	away := join(t, c, "away", "gone")
	here := join(t, c, "here", "gone")
	s := openStream(t, c, here.SessionId)
	s.until(describe(2, 2), queued(2, 2))
	clock.advance(3 * time.Minute)
	if err := ts.Service().RefreshPresence(context.Background()); err != nil {
		t.Fatal(err)
	}
	process(t, ts)
	s.until("admission", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
	clock.advance(15 * time.Minute)
	process(t, ts)
	_, err := c.GetQueueStatus(context.Background(), connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: away.SessionId}))
	wantCode(t, err, connect.CodeNotFound, "session expired")
}

// TestPresenceRefreshCost measures what keeping streams present costs
// Redis: per grace period (three refreshes) and per replica, one script
// call per event, however many streams. It logs the figures.
func TestPresenceRefreshCost(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of streams")
	}
	r := redistest.Start(t)
	clock := newTestClock()
	cfg := presenceConfig(t, clock, r.Addr())
	replicas := []*servertest.Server{startServer(t, cfg), startServer(t, cfg)}
	const events, perEvent = 2, 150
	client := protocols()[1].client(replicas[1])
	for e := range events {
		for i := range perEvent {
			res := join(t, client, fmt.Sprintf("u%d", i), fmt.Sprintf("cost-%d", e))
			openStream(t, protocols()[1].client(replicas[i%2]), res.SessionId).next()
		}
	}
	before := r.CommandStats()
	for range 3 { // one grace period
		for _, ts := range replicas {
			if err := ts.Service().RefreshPresence(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := r.CommandStats()
	delta := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			delta[k] = d
		}
	}
	t.Logf("presence per grace period, %d streams on %d replicas over %d events: %v", events*perEvent, len(replicas), events, delta)
	// Other traffic (a view's periodic resync) may fall in the window, but
	// never a script call per stream.
	if want := int64(3 * len(replicas) * events); delta["evalsha"] < want || delta["evalsha"] > want+4 {
		t.Errorf("script calls per grace period = %d, want %d (3 refreshes × %d replicas × %d events)",
			delta["evalsha"], want, len(replicas), events)
	}
}

// TestPresenceOff: with QUEUE_PRESENCE_GRACE=0 the head is admitted though
// it has been away for hours, as before presence existed.
func TestPresenceOff(t *testing.T) {
	clock := newTestClock()
	cfg := server.Config{}
	cfg.Queue.Now = clock.Now
	cfg.Queue.PresenceGrace = -1
	ts := startServer(t, cfg)
	c := protocols()[0].client(ts)
	away := join(t, c, "away", "off")
	here := join(t, c, "here", "off")
	s := openStream(t, c, here.SessionId)
	s.until(describe(2, 2), queued(2, 2))
	clock.advance(time.Hour)
	process(t, ts)
	if m := status(t, c, away.SessionId); m.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_READY || m.GetHeld() {
		t.Fatalf("the absent head with presence off: %v", m)
	}
	s.until(describe(1, 1), queued(1, 1))
}
