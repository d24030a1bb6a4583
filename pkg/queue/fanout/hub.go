// Package fanout keeps, for each event with streams open on this process, one
// live view of its queue, and feeds every stream its exact state from it.
//
// A view holds one subscription to the store's change feed and the event's
// waiting tickets in memory ([state], plain data), run by one loop per event
// (loop.go) that coalesces changes and flushes each stream's newest state into
// its mailbox. A change thus costs no store work per stream, whatever the
// number of streams.
package fanout

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Defaults for Config.
const (
	DefaultCoalesce = 100 * time.Millisecond
	DefaultResync   = 5 * time.Second
	DefaultLinger   = 30 * time.Second
	DefaultMaxAge   = time.Hour
	// DefaultHeartbeat keeps a quiet stream well inside the 60 s idle
	// timeout of common proxies and load balancers.
	DefaultHeartbeat = 20 * time.Second
	// MinCoalesce, MinResync and MinHeartbeat are the shortest settings: a
	// typo must not spin a core per event. Shorter values are raised to them.
	MinCoalesce  = time.Millisecond
	MinResync    = 100 * time.Millisecond
	MinHeartbeat = 10 * time.Millisecond
)

// Config tunes the fan-out. The zero value is the defaults.
type Config struct {
	// Coalesce is the shortest time between two flushes of an event's changes to
	// its streams: a burst of changes inside it reaches each stream as one
	// message with the latest state.
	Coalesce time.Duration
	// Resync is how often an event's view checks its change sequence against
	// the store, to catch changes the subscription lost.
	Resync time.Duration
	// Linger is how long an event's view (its subscription and in-memory queue)
	// outlives its last stream, so reconnecting clients do not rebuild it.
	Linger time.Duration
	// MaxAge ends a stream with queue.ErrStreamMaxAge once it has been open
	// this long, give or take a tenth so that streams opened together do not
	// end together (DefaultMaxAge; negative: never). It is checked at each
	// Resync, so a stream may outlive it by up to one Resync.
	MaxAge time.Duration
	// Heartbeat is how long a stream may stay silent: a stream that sent
	// nothing for this long gets its last state again, marked as a
	// keep-alive (DefaultHeartbeat; negative: never). The views' periodic
	// pass sends them, running at least every Heartbeat/4 while they are on,
	// so a stream is never silent for more than 1.25 × Heartbeat and no
	// stream costs a timer of its own.
	Heartbeat time.Duration
	// RealtimePositions: streams this close to the head get every change,
	// coalesced only by Coalesce (DefaultRealtimePositions); streams
	// further back get position messages at least Cadence.Interval apart.
	// A value above any queue's length sends every stream every change.
	RealtimePositions int64
	// MaxInterval is the longest a stream's position messages are held
	// back for (DefaultMaxInterval).
	MaxInterval time.Duration
	// Logger receives the views' warnings; nil discards them.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Coalesce <= 0 {
		c.Coalesce = DefaultCoalesce
	}
	if c.Resync <= 0 {
		c.Resync = DefaultResync
	}
	c.Coalesce, c.Resync = max(c.Coalesce, MinCoalesce), max(c.Resync, MinResync)
	if c.RealtimePositions <= 0 {
		c.RealtimePositions = DefaultRealtimePositions
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = DefaultMaxInterval
	}
	if c.Linger <= 0 {
		c.Linger = DefaultLinger
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	switch {
	case c.Heartbeat == 0:
		c.Heartbeat = DefaultHeartbeat
	case c.Heartbeat > 0:
		c.Heartbeat = max(c.Heartbeat, MinHeartbeat)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// tick is the period of a view's periodic pass: Resync, or a quarter of the
// heartbeat interval when that is shorter.
func (c Config) tick() time.Duration {
	if c.Heartbeat > 0 {
		return min(c.Resync, c.Heartbeat/4)
	}
	return c.Resync
}

// ErrClosed ends the watchers of a hub that is shutting down. It is
// queue.ErrShuttingDown, so the API maps it without knowing this package.
var ErrClosed = queue.ErrShuttingDown

// Hub fans each event's changes out to the streams open on this process.
type Hub struct {
	store queue.Store
	cfg   Config

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	counters
	sends *sendQueue

	mu    sync.Mutex
	views map[string]*viewRef
}

// counters are the hub's running totals, shared with its views.
type counters struct {
	open       atomic.Int64 // open watchers
	heartbeats atomic.Int64 // heartbeats handed to streams
	// coalesced counts states replaced in a mailbox by a newer one before
	// the stream's reader took them.
	coalesced atomic.Int64
	// storeErrors counts the views' failed store calls.
	storeErrors atomic.Int64
	cadenceCounts
}

// viewRef is a running view and the hub's bookkeeping of who uses it.
type viewRef struct {
	view      *eventView
	refs      int
	idleSince time.Time
}

var _ queue.Streams = (*Hub)(nil)

// New returns a hub over store. Close stops it.
func New(store queue.Store, cfg Config) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{store: store, cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel,
		views: map[string]*viewRef{}, sends: newSendQueue(sendsInFlight)}
}

// OpenStreams is how many watchers are open.
func (h *Hub) OpenStreams() int64 { return h.open.Load() }

// OpenStreamsByEvent is how many watchers are open per event, for the
// events that have any.
func (h *Hub) OpenStreamsByEvent() map[string]int64 {
	h.mu.Lock()
	views := make([]*eventView, 0, len(h.views))
	for _, r := range h.views {
		views = append(views, r.view)
	}
	h.mu.Unlock()
	out := map[string]int64{}
	for _, v := range views {
		if n := v.watcherCount(); n > 0 {
			out[v.eventID] = int64(n)
		}
	}
	return out
}

// Heartbeats is how many heartbeats streams have taken to send since start.
func (h *Hub) Heartbeats() int64 { return h.heartbeats.Load() }

// Coalesced is how many states streams skipped since start because a newer
// one replaced them before they were sent.
func (h *Hub) Coalesced() int64 { return h.coalesced.Load() }

// StoreErrors is how many store calls the views made failed since start.
func (h *Hub) StoreErrors() int64 { return h.storeErrors.Load() }

// Views is how many events this process holds a live view of.
func (h *Hub) Views() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.views)
}

// Close ends every watcher with ErrClosed and stops the views.
func (h *Hub) Close() {
	h.mu.Lock()
	h.cancel() // under mu: no view starts after this
	h.mu.Unlock()
	h.wg.Wait()
}

// acquire returns the event's view, starting it if needed, with one more
// reference held; release gives it back.
func (h *Hub) acquire(eventID string) (*eventView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return nil, ErrClosed
	}
	r := h.views[eventID]
	if r == nil {
		r = &viewRef{view: newEventView(eventID, h.store, h.cfg, &h.counters)}
		h.views[eventID] = r
		h.wg.Go(func() { r.view.run(h.ctx, func() bool { return h.retire(eventID, r) }) })
	}
	r.refs++
	return r.view, nil
}

// acquireRunning is acquire for a view that already runs; nil when none does.
func (h *Hub) acquireRunning(eventID string) *eventView {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.views[eventID]
	if r == nil || h.ctx.Err() != nil {
		return nil
	}
	r.refs++
	return r.view
}

// endsAt is when a stream opened now reaches its maximum age, spread over
// ±10% of it; zero for never.
func (h *Hub) endsAt() int64 {
	if h.cfg.MaxAge < 0 {
		return 0
	}
	spread := time.Duration((rand.Float64()*0.2 - 0.1) * float64(h.cfg.MaxAge))
	return h.cfg.Now().Add(h.cfg.MaxAge + spread).UnixNano()
}

// release unregisters a closed watcher and gives back its reference.
func (h *Hub) release(w *Watcher) {
	v := w.view
	v.unregister(w)
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.views[v.eventID]
	if r == nil || r.view != v {
		return
	}
	if r.refs--; r.refs == 0 {
		r.idleSince = h.cfg.Now()
	}
}

// retire removes an idle view; it reports false if a stream arrived meanwhile.
func (h *Hub) retire(eventID string, r *viewRef) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.refs > 0 || h.cfg.Now().Sub(r.idleSince) < h.cfg.Linger {
		return false
	}
	delete(h.views, eventID)
	return true
}

// EstimatedWait returns the estimated wait at position for an event this
// process watches, or 0 when it has no view of the event or no admissions
// seen yet.
func (h *Hub) EstimatedWait(eventID string, position int64) time.Duration {
	h.mu.Lock()
	r := h.views[eventID]
	h.mu.Unlock()
	if r == nil {
		return 0
	}
	return r.view.estimate(position)
}

// Watch opens a watcher on a session. The first value from Next is the
// session's current state; later ones follow every change that alters what it
// shows. The caller must Close it.
func (h *Hub) Watch(ctx context.Context, sessionID string) (queue.Watch, error) {
	eventID := queue.EventOfSession(sessionID)
	// Once the event's view runs here — every stream after the first on
	// this process — one read is enough: a crowd opening streams costs the
	// store one session read each instead of two.
	if v := h.acquireRunning(eventID); v != nil {
		return h.watchOn(ctx, v, sessionID)
	}
	// Otherwise read first: an unknown id must not start a view (a
	// subscription and its goroutines) for an event that may not even
	// exist, and a session that has ended needs no view at all.
	s, pl, err := h.store.Session(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if s.Status.EndsStream() {
		return finishedWatcher(h, s, pl), nil
	}
	v, err := h.acquire(eventID)
	if err != nil {
		return nil, err
	}
	return h.watchOn(ctx, v, sessionID)
}

// watchOn registers a watcher on v, which the caller acquired, then reads
// the session. Reading after registering means no change can fall between the
// read and the watcher's first update from the view: it is either in the read
// or delivered to the registered watcher (or both, which the sequence numbers
// sort out). A session that has ended is shown once, and its stream ends.
func (h *Hub) watchOn(ctx context.Context, v *eventView, sessionID string) (queue.Watch, error) {
	w := &Watcher{sessionID: sessionID, box: newMailbox(), hub: h, view: v, endsAt: h.endsAt()}
	v.register(w)
	s, pl, err := h.store.Session(ctx, sessionID)
	if err != nil {
		w.Close()
		return nil, err
	}
	v.start(w, s, pl)
	return w, nil
}
