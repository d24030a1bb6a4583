package queue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

const (
	// maxInbox bounds the changes buffered while a view resynchronises or
	// its loop is busy; past it the backlog is dropped for a resync.
	maxInbox = 100_000
	// maxRereads bounds the session re-reads one step makes, so a mass re-read
	// after a store failure cannot starve the event's other streams.
	maxRereads = 1000
	// storeTimeout bounds each store call a view makes; snapshotTimeout
	// bounds a resync, which reads the whole queue (about a second for
	// 1,000,000 waiting in Redis).
	storeTimeout    = 5 * time.Second
	snapshotTimeout = 30 * time.Second
)

// eventView is one process's live picture of one event: the waiting set as
// ordered tickets, kept current from the store's change feed, and the
// watchers of the streams open on this process. One change costs one update of
// the set plus one cheap comparison per watcher; no store calls.
type eventView struct {
	hub     *Hub
	eventID string
	rate    admissionRate

	// Guarded by hub.mu.
	refs      int
	idleSince time.Time

	// The inbox is filled by the store's subscription, which must never block,
	// so it has its own lock, never held for long.
	inMu         sync.Mutex
	inbox        []Change
	resubscribed bool
	wake         chan struct{}

	mu         sync.Mutex
	closed     bool // shut down: new watchers fail at once
	tickets    *ticketset.Set
	seq        uint64
	subscribed bool // the subscription has been established at least once
	synced     bool // tickets reflect a snapshot plus every change since
	needResync bool
	suspectSeq uint64 // the store's seq seen ahead of ours
	suspectAt  time.Time
	backoff    time.Duration
	pending    []Change
	event      Event
	// eventKnown is set once event holds the store's settings (or their absence).
	eventKnown bool
	// statusChanged are the watchers whose session's status the changes
	// since the last flush moved; flush serves them first.
	statusChanged []*Watcher
	watchers      map[*Watcher]struct{}
	bySession     map[string][]*Watcher
	rereads       []*Watcher
	// rateSeq is the newest admission change counted in rate: a change
	// a snapshot already covered still counts, once.
	rateSeq uint64
	// shownRate is the admission rate the last flush showed; a periodic
	// check that finds it moved (it decays when admissions stop) flushes
	// again, so estimated waits do not go stale.
	shownRate float64
	// failedRereads are re-reads the store failed; they are retried at the
	// next periodic check, not at once, so a failing store is not hammered.
	failedRereads []*Watcher
	dirty         bool
}

func newEventView(h *Hub, eventID string) *eventView {
	return &eventView{
		hub:       h,
		eventID:   eventID,
		rate:      admissionRate{since: h.cfg.Now()},
		wake:      make(chan struct{}, 1),
		tickets:   ticketset.New(),
		watchers:  map[*Watcher]struct{}{},
		bySession: map[string][]*Watcher{},
	}
}

// Subscribed implements ChangeHandler.
func (v *eventView) Subscribed() {
	v.inMu.Lock()
	v.resubscribed = true
	v.inMu.Unlock()
	v.poke()
}

// Change implements ChangeHandler.
func (v *eventView) Change(c Change) {
	v.inMu.Lock()
	if len(v.inbox) >= maxInbox {
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

func (v *eventView) takeInbox() ([]Change, bool) {
	v.inMu.Lock()
	defer v.inMu.Unlock()
	in, re := v.inbox, v.resubscribed
	v.inbox, v.resubscribed = nil, false
	return in, re
}

func (v *eventView) log() *slog.Logger { return v.hub.log.With("event_id", v.eventID) }

// run is the view's loop: it owns the subscription and flushes changes to the
// watchers at most once per Coalesce.
func (v *eventView) run() {
	cfg := v.hub.cfg
	ctx, cancel := context.WithCancel(v.hub.ctx)
	var sub sync.WaitGroup
	sub.Add(1)
	go func() {
		defer sub.Done()
		v.subscribe(ctx)
	}()
	defer func() {
		cancel()
		sub.Wait()
		v.shutdown()
	}()

	tick := time.NewTicker(cfg.Resync)
	defer tick.Stop()
	var lastFlush time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.wake:
		case <-tick.C:
			if v.hub.retire(v) {
				return
			}
			v.checkSeq(ctx)
			v.periodic()
		}
		if wait := cfg.Coalesce - cfg.Now().Sub(lastFlush); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		v.step(ctx)
		lastFlush = cfg.Now()
	}
}

// subscribe keeps the event's one subscription up until ctx ends.
func (v *eventView) subscribe(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		err := v.hub.store.Subscribe(ctx, v.eventID, v)
		if ctx.Err() != nil {
			return
		}
		v.log().Warn("Position update subscription ended; retrying", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (v *eventView) shutdown() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	for w := range v.watchers {
		w.fail(ErrHubClosed)
	}
}

// step applies what arrived, resynchronises if needed, and flushes.
func (v *eventView) step(ctx context.Context) {
	changes, resubscribed := v.takeInbox()
	v.mu.Lock()
	if resubscribed {
		// Whatever was published while the subscription was down is gone.
		v.subscribed = true
		v.needResync = true
	}
	v.pending = append(v.pending, changes...)
	if n := len(v.pending) - maxInbox; n > 0 {
		v.pending = append(v.pending[:0], v.pending[n:]...)
	}
	v.applyPending()
	switch {
	case v.suspectSeq != 0 && v.seq >= v.suspectSeq:
		v.suspectSeq = 0 // the feed caught up
	case v.suspectSeq != 0 && v.hub.cfg.Now().Sub(v.suspectAt) >= suspectGrace(v.hub.cfg):
		v.log().Info("Change feed fell behind the store; resynchronising", "seq", v.seq, "store_seq", v.suspectSeq)
		v.needResync = true
	}
	resync := v.subscribed && (v.needResync || !v.synced)
	v.mu.Unlock()

	if resync {
		v.resync(ctx)
	}
	v.reread(ctx)

	v.mu.Lock()
	v.flush()
	v.mu.Unlock()
}

// suspectGrace is how long the feed may trail a store sequence number seen by
// a check before the view resynchronises: long enough for a change in flight.
func suspectGrace(cfg HubConfig) time.Duration {
	return min(cfg.Resync/4, time.Second)
}

// applyPending applies buffered changes in sequence order, stopping at a gap.
// Called with v.mu held.
func (v *eventView) applyPending() {
	i := 0
	for ; i < len(v.pending) && v.synced && !v.needResync; i++ {
		c := v.pending[i]
		switch {
		case c.Seq <= v.seq:
			// Already in the snapshot, or a duplicate; its admissions still
			// count towards the rate.
			v.countAdmissions(c)
		case c.Seq > v.seq+1:
			v.log().Info("Missed position updates; resynchronising", "seq", v.seq, "received_seq", c.Seq)
			v.needResync = true
			i-- // keep it for after the resync
		default:
			v.apply(c)
		}
	}
	if v.synced && !v.needResync {
		v.pending = v.pending[:0]
	} else if i > 0 {
		v.pending = append(v.pending[:0], v.pending[i:]...)
	}
}

// apply updates the waiting set and the watchers of the affected sessions.
// Called with v.mu held.
func (v *eventView) apply(c Change) {
	for _, cs := range c.Sessions {
		if cs.Status == StatusQueued {
			v.tickets.Insert(cs.Ticket)
		} else {
			v.tickets.Remove(cs.Ticket)
		}
		for _, w := range v.bySession[cs.ID] {
			advance(&w.session, cs.Status, c)
			v.statusChanged = append(v.statusChanged, w)
		}
	}
	v.seq = c.Seq
	v.dirty = true
	v.countAdmissions(c)
	if v.tickets.Len() != c.QueueLength {
		// The feed and the store disagree: trust the store.
		v.log().Warn("Queue length differs from the store's; resynchronising",
			"seq", c.Seq, "local", v.tickets.Len(), "store", c.QueueLength)
		v.needResync = true
	}
}

// countAdmissions adds an admission change to the rate, once. Called with
// v.mu held.
func (v *eventView) countAdmissions(c Change) {
	if c.Kind == ChangeAdmitted && c.Seq > v.rateSeq {
		v.rateSeq = c.Seq
		v.rate.add(c.At, len(c.Sessions))
	}
}

// advance moves s to a newer status learnt from change c; older news is ignored.
func advance(s *Session, st Status, c Change) {
	if st.stage() <= s.Status.stage() {
		return
	}
	s.Status = st
	switch st {
	case StatusReady:
		s.AdmittedAt, s.CheckoutDeadline = c.At, c.CheckoutDeadline
	case StatusCompleted, StatusExpired, StatusLeft:
		s.EndedAt = c.At
	}
}

// resync replaces the waiting set with the store's snapshot.
func (v *eventView) resync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	snap, err := v.hub.store.Snapshot(ctx, v.eventID)
	if err == nil {
		var e Event
		if e, _, err = v.hub.store.Event(ctx, v.eventID); errors.Is(err, ErrEventNotFound) {
			err = nil
		}
		v.mu.Lock()
		v.event, v.eventKnown = e, err == nil
		v.mu.Unlock()
	}
	if err != nil {
		v.mu.Lock()
		v.backoff = min(max(2*v.backoff, 100*time.Millisecond), 5*time.Second)
		retry := v.backoff
		v.mu.Unlock()
		v.log().Warn("Failed to resynchronise queue positions; streams keep their last state", "error", err, "retry_in", retry)
		time.AfterFunc(retry, v.poke)
		return
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	regressed := snap.Seq < v.seq
	v.tickets.Reset(snap.Tickets)
	v.seq = snap.Seq
	v.synced, v.needResync, v.suspectSeq, v.backoff = true, false, 0, 0
	v.dirty = true
	if regressed {
		// The store lost changes (a restart without persistence): nothing
		// remembered about the sessions can be trusted.
		v.log().Warn("Store's change sequence went backwards; re-reading every watched session", "seq", snap.Seq)
		for w := range v.watchers {
			w.baseSeq = 0
			v.markStale(w)
		}
	}
	v.applyPending()
	v.log().Debug("Resynchronised queue positions", "seq", v.seq, "queue_length", v.tickets.Len())
}

// checkSeq compares the view's sequence with the store's, to catch a lost
// change even when no later change arrives to reveal the gap, and refreshes
// the event's settings.
func (v *eventView) checkSeq(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	e, stats, err := v.hub.store.Event(ctx, v.eventID)
	if err != nil {
		if !errors.Is(err, ErrEventNotFound) {
			v.log().Debug("Periodic position check failed", "error", err)
		}
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.event, v.eventKnown = e, true
	switch {
	case !v.synced:
	case stats.Seq < v.seq:
		v.needResync = true
	case stats.Seq > v.seq:
		if v.suspectSeq <= v.seq {
			// No suspicion pending (or an old one the feed has passed):
			// give the changes in flight a grace period, then look again.
			v.suspectSeq, v.suspectAt = stats.Seq, v.hub.cfg.Now()
			time.AfterFunc(suspectGrace(v.hub.cfg), v.poke)
		}
	default:
		v.suspectSeq = 0
	}
}

func (v *eventView) register(w *Watcher) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.watchers[w] = struct{}{}
	v.hub.watchers.Add(1)
	if v.closed {
		w.fail(ErrHubClosed)
	}
	v.bySession[w.sessionID] = append(v.bySession[w.sessionID], w)
}

func (v *eventView) unregister(w *Watcher) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.watchers, w)
	v.hub.watchers.Add(-1)
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
func (v *eventView) start(w *Watcher, s Session, pl Place) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if w.started {
		// A re-read got here first: the store lost its changes while this
		// read was in flight, so s may be from before the loss. The re-read
		// is the newer; the flush it asked for shows it once memory agrees.
		if view, ok := v.viewOf(w, v.rate.perSecond(v.hub.cfg.Now())); ok {
			v.show(w, view)
		}
		return
	}
	if w.session.Status.stage() > s.Status.stage() {
		s.Status, s.AdmittedAt, s.CheckoutDeadline, s.EndedAt =
			w.session.Status, w.session.AdmittedAt, w.session.CheckoutDeadline, w.session.EndedAt
	}
	w.session, w.baseSeq, w.started = s, pl.Seq, true
	view, ok := v.viewOf(w, v.rate.perSecond(v.hub.cfg.Now()))
	if !ok {
		// The view has not caught up with the read yet: the read is the newest.
		view = v.makeView(w, pl.Position, pl.QueueLength, 0)
	}
	v.show(w, view)
}

// viewOf computes a watcher's state from memory; ok is false when memory
// cannot tell yet. Called with v.mu held.
func (v *eventView) viewOf(w *Watcher, perSecond float64) (View, bool) {
	if w.session.Status != StatusQueued {
		n := w.last.queueLength
		if v.synced {
			n = v.tickets.Len()
		}
		return v.makeView(w, 0, n, 0), true
	}
	if !v.synced || v.seq < w.baseSeq || w.stale {
		return View{}, false
	}
	if !v.tickets.Contains(w.session.Ticket) {
		// Queued, yet gone from the set: the change that took it out was lost.
		v.markStale(w)
		return View{}, false
	}
	pos := v.tickets.Rank(w.session.Ticket) + 1
	return v.makeView(w, pos, v.tickets.Len(), waitAt(pos, perSecond)), true
}

func (v *eventView) makeView(w *Watcher, pos, n int64, wait time.Duration) View {
	return View{
		Session:       w.session,
		Position:      pos,
		QueueLength:   n,
		EstimatedWait: wait,
		UpdatedAt:     v.hub.cfg.Now(),
		CheckoutURL:   v.event.CheckoutURL,
		eventKnown:    v.eventKnown,
	}
}

// show puts a state in the watcher's mailbox if it differs from the last one.
// Called with v.mu held.
func (v *eventView) show(w *Watcher, view View) {
	sh := shownOf(view)
	if w.final || sh == w.last {
		return
	}
	w.last = sh
	w.final = sh.status.EndsStream()
	w.put(view)
}

// flush sends every watcher whose state changed its new state. Called with
// v.mu held.
func (v *eventView) flush() {
	if !v.dirty {
		return
	}
	v.dirty = false
	perSecond := v.rate.perSecond(v.hub.cfg.Now())
	v.shownRate = perSecond
	// Watchers whose status changed go first: their readers are woken, and
	// so scheduled, before the thousands whose position merely moved, so a
	// crowd admitted at once sees READY sooner.
	for _, w := range v.statusChanged {
		if _, open := v.watchers[w]; open {
			v.refresh(w, perSecond)
		}
	}
	clear(v.statusChanged)
	v.statusChanged = v.statusChanged[:0]
	for w := range v.watchers {
		v.refresh(w, perSecond)
	}
}

// refresh shows a started watcher its state from memory, if that changed.
// Called with v.mu held.
func (v *eventView) refresh(w *Watcher, perSecond float64) {
	if !w.started || w.final {
		return
	}
	if view, ok := v.viewOf(w, perSecond); ok {
		v.show(w, view)
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
		s, pl, err := v.hub.store.Session(rctx, w.sessionID)
		cancel()
		v.mu.Lock()
		switch {
		case err == nil:
			if s.Status.stage() >= w.session.Status.stage() {
				w.session = s
			}
			// A watcher not started yet (its stream's first read in flight when
			// the store lost its changes) keeps this read: it is the newer.
			w.baseSeq, w.stale, w.started = pl.Seq, false, true
			v.dirty = true
		case errors.Is(err, ErrSessionNotFound):
			w.fail(err)
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
		// One line per batch: a store outage fails up to maxRereads at once.
		v.log().Warn("Failed to re-read watched sessions; retrying at the next check",
			"count", failed, "error", firstErr)
	}
}

// periodic queues the failed re-reads again, and marks the view for a flush
// when the admission rate moved since the last one (it decays when
// admissions stop), so estimated waits do not go stale.
func (v *eventView) periodic() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rate.perSecond(v.hub.cfg.Now()) != v.shownRate {
		v.dirty = true
	}
	for _, w := range v.failedRereads {
		if _, open := v.watchers[w]; open {
			v.rereads = append(v.rereads, w)
		}
	}
	clear(v.failedRereads)
	v.failedRereads = v.failedRereads[:0]
}
