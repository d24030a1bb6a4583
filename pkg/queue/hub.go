package queue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// HubConfig tunes the fan-out.
type HubConfig struct {
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
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Hub fans an event's changes out to the streams open on this process. For
// each event with open streams it holds one subscription and one in-memory
// copy of the waiting set, so a change costs no store work per stream: every
// stream's position is computed from memory.
type Hub struct {
	store Store
	log   *slog.Logger
	cfg   HubConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	watchers atomic.Int64

	mu    sync.Mutex
	views map[string]*eventView
}

// Watchers is how many watchers are open.
func (h *Hub) Watchers() int64 { return h.watchers.Load() }

// Views is how many events this process holds a live view of.
func (h *Hub) Views() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.views)
}

// NewHub returns a hub over store. Close stops it.
func NewHub(store Store, cfg HubConfig, log *slog.Logger) *Hub {
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 100 * time.Millisecond
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 5 * time.Second
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{store: store, log: log, cfg: cfg, ctx: ctx, cancel: cancel, views: map[string]*eventView{}}
}

// Close ends every watcher with ErrHubClosed and stops the views.
func (h *Hub) Close() {
	h.mu.Lock()
	h.cancel() // under mu: no view starts after this
	h.mu.Unlock()
	h.wg.Wait()
}

// ErrHubClosed ends the watchers of a hub that is shutting down.
var ErrHubClosed = errors.New("server shutting down")

// acquire returns the event's view, starting it if needed, with one more
// reference held; release gives it back.
func (h *Hub) acquire(eventID string) (*eventView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return nil, ErrHubClosed
	}
	v := h.views[eventID]
	if v == nil {
		v = newEventView(h, eventID)
		h.views[eventID] = v
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			v.run()
		}()
	}
	v.refs++
	return v, nil
}

// acquireRunning is acquire for a view that already runs; nil when none does.
func (h *Hub) acquireRunning(eventID string) *eventView {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.views[eventID]
	if v == nil || h.ctx.Err() != nil {
		return nil
	}
	v.refs++
	return v
}

func (h *Hub) release(v *eventView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v.refs--
	if v.refs == 0 {
		v.idleSince = h.cfg.Now()
	}
}

// retire removes an idle view; it reports false if a stream arrived meanwhile.
func (h *Hub) retire(v *eventView) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v.refs > 0 || h.cfg.Now().Sub(v.idleSince) < h.cfg.Linger {
		return false
	}
	delete(h.views, v.eventID)
	return true
}

// estimate returns the estimated wait at position for an event this process
// watches, or 0 when it has no view of the event or no admissions seen yet.
func (h *Hub) estimate(eventID string, position int64) time.Duration {
	h.mu.Lock()
	v := h.views[eventID]
	h.mu.Unlock()
	if v == nil {
		return 0
	}
	return waitAt(position, v.rate.perSecond(h.cfg.Now()))
}

// Watch opens a watcher on a session. The first value from Next is the
// session's current state; later ones follow every change that alters what it
// shows. The caller must Close it.
func (h *Hub) Watch(ctx context.Context, sessionID string) (*Watcher, error) {
	eventID := EventOfSession(sessionID)
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
		return finishedWatcher(s, pl, h.cfg.Now()), nil
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
func (h *Hub) watchOn(ctx context.Context, v *eventView, sessionID string) (*Watcher, error) {
	w := newWatcher(v, sessionID)
	v.register(w)
	s, pl, err := h.store.Session(ctx, sessionID)
	if err != nil {
		w.Close()
		return nil, err
	}
	v.start(w, s, pl)
	return w, nil
}
