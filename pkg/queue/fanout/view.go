package fanout

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

const (
	// maxRereads bounds the session re-reads one step makes, so a mass re-read
	// after a store failure cannot starve the event's other streams.
	maxRereads = 1000
	// storeTimeout bounds each store call a view makes; snapshotTimeout
	// bounds a resync, which reads the whole queue (about a second for
	// 1,000,000 waiting in Redis).
	storeTimeout    = 5 * time.Second
	snapshotTimeout = 30 * time.Second
)

// eventView is one process's live picture of one event: its [state], kept
// current from the store's change feed by the view's loop (loop.go), and the
// watchers of the streams open on this process. One change costs one update
// of the state plus one cheap comparison per watcher; no store calls.
type eventView struct {
	eventID string
	store   queue.Store
	cfg     Config
	log     *slog.Logger
	counts  *counters // the hub's

	// The inbox is filled by the store's subscription, which must never block,
	// so it has its own lock, never held for long.
	inMu         sync.Mutex
	inbox        []queue.Change
	resubscribed bool
	wake         chan struct{}

	mu      sync.Mutex
	closed  bool // shut down: new watchers fail at once
	st      *state
	backoff time.Duration // before the next resync after a failed one
	event   queue.Event
	// eventKnown is set once event holds the store's settings (or their absence).
	eventKnown bool
	// statusChanged are the watchers whose session's status the changes
	// since the last flush moved; flush serves them first.
	statusChanged []*Watcher
	watchers      map[*Watcher]struct{}
	bySession     map[string][]*Watcher
	rereads       []*Watcher
	// shownRate is the admission rate the last flush showed; a periodic
	// check that finds it moved (it decays when admissions stop) flushes
	// again, so estimated waits do not go stale.
	shownRate float64
	// failedRereads are re-reads the store failed; they are retried at the
	// next periodic check, not at once, so a failing store is not hammered.
	failedRereads []*Watcher
	dirty         bool
	// changedAt is when the oldest change applied since the last flush was
	// made: the states that flush shows carry it (View.ChangedAt).
	changedAt time.Time
	// placedAt is the seq of the newest placement of the event's pre-queue
	// heard on the feed; eventStale asks for the event to be read again
	// (fairstart.go).
	placedAt   uint64
	eventStale bool
	placing    *placement
	// cadence spaces the position messages of streams far from the head;
	// cadenceDue is when the first it held back is due (Unix ns; 0: none).
	cadence    Cadence
	cadenceDue int64
	// wheel holds the streams a flush passes, and parks those the cadence
	// holds back until they are due (park.go).
	wheel wheel
}

func newEventView(eventID string, store queue.Store, cfg Config, counts *counters) *eventView {
	return &eventView{
		eventID:   eventID,
		store:     store,
		cfg:       cfg,
		log:       cfg.Logger.With("event_id", eventID),
		counts:    counts,
		st:        newState(cfg.Now()),
		wake:      make(chan struct{}, 1),
		watchers:  map[*Watcher]struct{}{},
		bySession: map[string][]*Watcher{},
		cadence:   cfg.cadence(),
		wheel:     newWheel(cfg.MaxInterval, &counts.cadenceCounts),
	}
}

// Subscribed implements queue.ChangeHandler.
func (v *eventView) Subscribed() {
	v.inMu.Lock()
	v.resubscribed = true
	v.inMu.Unlock()
	v.poke()
}

// Change implements queue.ChangeHandler.
func (v *eventView) Change(c queue.Change) {
	v.inMu.Lock()
	if len(v.inbox) >= maxPending {
		// The loop is stuck (the store is slow to answer a resync or a
		// re-read): drop what piled up and resynchronise instead, rather
		// than hold an unbounded backlog.
		v.inbox, v.resubscribed = v.inbox[:0], true
	}
	v.inbox = append(v.inbox, c)
	v.inMu.Unlock()
	v.poke()
}

func (v *eventView) poke() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *eventView) takeInbox() ([]queue.Change, bool) {
	v.inMu.Lock()
	defer v.inMu.Unlock()
	in, re := v.inbox, v.resubscribed
	v.inbox, v.resubscribed = nil, false
	return in, re
}

// applied updates the watchers of the sessions the applied changes touched.
// Called with v.mu held.
func (v *eventView) applied(changes []queue.Change) {
	for _, c := range changes {
		if v.changedAt.IsZero() || c.At.Before(v.changedAt) {
			v.changedAt = c.At
		}
		for _, cs := range c.Sessions {
			for _, w := range v.bySession[cs.ID] {
				advance(&w.session, cs.Status, c)
				v.statusChanged = append(v.statusChanged, w)
			}
		}
		v.dirty = true
	}
	v.fairApplied(changes)
}

// logFindings logs why the state stopped trusting memory. Called with v.mu held.
func (v *eventView) logFindings() {
	for _, f := range v.st.findings() {
		if f.warn {
			v.log.Warn(f.msg, f.attrs...)
		} else {
			v.log.Info(f.msg, f.attrs...)
		}
	}
}

// advance moves s to a newer status learnt from change c; older news is ignored.
func advance(s *queue.Session, st queue.Status, c queue.Change) {
	if st.Stage() <= s.Status.Stage() {
		return
	}
	s.Status = st
	switch st {
	case queue.StatusReady:
		s.AdmittedAt, s.CheckoutDeadline = c.At, c.CheckoutDeadline
	case queue.StatusCompleted, queue.StatusExpired, queue.StatusLeft:
		s.EndedAt = c.At
	}
}

func (v *eventView) register(w *Watcher) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.watchers[w] = struct{}{}
	v.wheel.add(w)
	v.counts.open.Add(1)
	if v.closed {
		w.box.fail(ErrClosed)
	}
	v.bySession[w.sessionID] = append(v.bySession[w.sessionID], w)
}

// watcherCount is how many watchers are registered.
func (v *eventView) watcherCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.watchers)
}

func (v *eventView) unregister(w *Watcher) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.watchers, w)
	v.wheel.remove(w)
	v.counts.open.Add(-1)
	ws := v.bySession[w.sessionID]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(v.bySession, w.sessionID)
	} else {
		v.bySession[w.sessionID] = ws
	}
}

// start merges the watcher's initial read with whatever the feed told it
// meanwhile and sends the first state.
func (v *eventView) start(w *Watcher, s queue.Session, pl queue.Place) {
	v.mu.Lock()
	defer v.mu.Unlock()
	perSecond := v.st.rate.perSecond(v.cfg.Now())
	if w.started {
		// A re-read got here first: the store lost its changes while this
		// read was in flight, so s may be from before the loss. The re-read
		// is the newer; the flush it asked for shows it once memory agrees.
		if u, ok := v.updateOf(w, perSecond); ok {
			v.show(w, u)
		}
		return
	}
	if w.session.Status.Stage() > s.Status.Stage() {
		s.Status, s.AdmittedAt, s.CheckoutDeadline, s.EndedAt =
			w.session.Status, w.session.AdmittedAt, w.session.CheckoutDeadline, w.session.EndedAt
	}
	w.session, w.baseSeq, w.started = s, pl.Seq, true
	v.fairStarted(w, pl)
	if v.placedSince(w) {
		v.markStale(w) // read before a placement this view has seen
	}
	u, ok := v.updateOf(w, perSecond)
	if !ok {
		// The view has not caught up with the read yet: the read is the newest.
		u = v.makeUpdate(w, pl.Position, pl.QueueLength, 0)
	}
	v.show(w, u)
	// Parked now if the cadence holds it back, not at whichever flush
	// comes next: a quiet event may have none for a while.
	v.place(w, v.cfg.Now().UnixNano())
}

// updateOf computes a watcher's state from memory; ok is false when memory
// cannot tell yet. Called with v.mu held.
func (v *eventView) updateOf(w *Watcher, perSecond float64) (update, bool) {
	if w.session.Status != queue.StatusQueued {
		n := w.last.queueLength
		if v.st.synced {
			n = v.st.queueLength()
		}
		return v.makeUpdate(w, 0, n, 0), true
	}
	if !v.st.covers(w.baseSeq) || w.stale {
		return update{}, false
	}
	pos, ok := v.st.position(w.session.Ticket, w.session.Lane)
	if !ok {
		// Queued, yet gone from the set: the change that took it out was lost.
		v.markStale(w)
		return update{}, false
	}
	if w.fair.unplaced {
		pos = v.st.queueLength() // hidden until placed: the bound
	}
	return v.makeUpdate(w, pos, v.st.queueLength(), waitAt(pos, perSecond)), true
}

func (v *eventView) makeUpdate(w *Watcher, pos, n int64, wait time.Duration) update {
	return update{
		View: queue.View{
			Session:       w.session,
			Position:      pos,
			QueueLength:   n,
			EstimatedWait: wait,
			UpdatedAt:     v.cfg.Now(),
			CheckoutURL:   v.event.CheckoutURL,
			FairStart:     v.fairInfo(w),
			ChangedAt:     v.changedAt,
		},
		eventKnown: v.eventKnown,
	}
}

// show puts a state in the watcher's mailbox if it differs from the last one.
// Called with v.mu held.
func (v *eventView) show(w *Watcher, u update) {
	sh := shownOf(u.View)
	if sh == w.last {
		w.heldAt = 0 // nothing is held back from it (cadence.go)
	}
	if w.final || sh == w.last || v.holdBack(w, sh, &u) {
		return
	}
	w.last = sh
	w.final = sh.status.EndsStream()
	if w.box.put(u) {
		v.counts.coalesced.Add(1)
	}
}

// flush sends every watcher whose state changed its new state. Called with
// v.mu held.
func (v *eventView) flush() {
	if !v.dirty {
		return
	}
	v.dirty = false
	v.cadenceDue = 0 // the pass below finds the streams it holds back
	defer func() { v.changedAt = time.Time{} }()
	now := v.cfg.Now()
	var changedAt int64
	if !v.changedAt.IsZero() {
		changedAt = v.changedAt.UnixNano()
	}
	v.wheel.begin(now.UnixNano(), changedAt)
	perSecond := v.st.rate.perSecond(now)
	v.shownRate = perSecond
	// Watchers whose status changed go first: their readers are woken, and
	// so scheduled, before the thousands whose position merely moved, so a
	// crowd admitted at once sees READY sooner.
	for _, w := range v.statusChanged {
		if _, open := v.watchers[w]; open {
			v.refresh(w, perSecond)
			v.place(w, now.UnixNano())
		}
	}
	clear(v.statusChanged)
	v.statusChanged = v.statusChanged[:0]
	// Backwards: place, taking a stream out of the walk list, moves the
	// last one into its index, and the last was passed already.
	for i := len(v.wheel.walk) - 1; i >= 0; i-- {
		w := v.wheel.walk[i]
		v.refresh(w, perSecond)
		v.place(w, now.UnixNano())
	}
	if d := v.wheel.due; d != 0 && (v.cadenceDue == 0 || d < v.cadenceDue) {
		v.cadenceDue = d
	}
}

// showEnds shows the started watchers whose session's status the applied
// changes ended their last state now, between flushes; the others whose
// status changed wait for the flush, and so do all of them while the
// event's settings are being re-read (a placement: READY shows its seed).
// Called with v.mu held.
func (v *eventView) showEnds() {
	if v.eventStale || v.placing != nil {
		return
	}
	rest := v.statusChanged[:0]
	var perSecond float64
	for _, w := range v.statusChanged {
		if _, open := v.watchers[w]; !open || !w.started || !w.session.Status.EndsStream() {
			rest = append(rest, w)
			continue
		}
		if perSecond == 0 {
			perSecond = v.st.rate.perSecond(v.cfg.Now())
		}
		v.refresh(w, perSecond)
		v.place(w, v.cfg.Now().UnixNano())
	}
	clear(v.statusChanged[len(rest):])
	v.statusChanged = rest
}

// refresh shows a started watcher its state from memory, if that changed.
// Called with v.mu held.
func (v *eventView) refresh(w *Watcher, perSecond float64) {
	if !w.started || w.final || v.stillHeld(w) {
		return
	}
	if u, ok := v.updateOf(w, perSecond); ok {
		v.show(w, u)
	}
}

func (v *eventView) markStale(w *Watcher) {
	if !w.stale {
		w.stale = true
		v.rereads = append(v.rereads, w)
		v.poke()
	}
}

// reread reads the sessions whose status the feed lost.
func (v *eventView) reread(ctx context.Context) {
	v.mu.Lock()
	n := min(len(v.rereads), maxRereads)
	batch := append([]*Watcher(nil), v.rereads[:n]...)
	v.rereads = append(v.rereads[:0], v.rereads[n:]...)
	more := len(v.rereads) > 0
	v.mu.Unlock()
	if more {
		defer v.poke()
	}
	failed, firstErr := 0, error(nil)
	for _, w := range batch {
		rctx, cancel := context.WithTimeout(ctx, storeTimeout)
		s, pl, err := v.store.Session(rctx, w.sessionID)
		cancel()
		v.mu.Lock()
		switch {
		case err == nil:
			if s.Status.Stage() >= w.session.Status.Stage() {
				w.session = s
			}
			// A watcher not started yet (its stream's first read in flight when
			// the store lost its changes) keeps this read: it is the newer.
			w.baseSeq, w.stale, w.started = pl.Seq, false, true
			w.fair = fairState{preQueue: pl.PreQueue, unplaced: pl.Unplaced}
			v.wheel.wake(w)
			v.dirty = true
		case errors.Is(err, queue.ErrSessionNotFound):
			w.box.fail(err)
		default:
			// Still stale (its state is unknown): no position from memory
			// until a re-read succeeds.
			v.failedRereads = append(v.failedRereads, w)
			if failed++; firstErr == nil {
				firstErr = err
			}
		}
		v.mu.Unlock()
	}
	if failed > 0 {
		v.counts.storeErrors.Add(int64(failed))
		// One line per batch: a store outage fails up to maxRereads at once.
		v.log.Warn("Failed to re-read watched sessions; retrying at the next check",
			"count", failed, "error", firstErr)
	}
}

// estimate is the estimated wait at position from this view's admission
// rate. It does not take v.mu, which a flush to many streams holds for a
// while: the rate has its own lock.
func (v *eventView) estimate(position int64) time.Duration {
	return waitAt(position, v.st.rate.perSecond(v.cfg.Now()))
}
