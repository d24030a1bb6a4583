package fanout

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// run is the view's loop: it owns the subscription and flushes changes to the
// watchers at most once per Coalesce. retire is asked at every periodic check
// whether the view, idle long enough, may stop.
func (v *eventView) run(ctx context.Context, retire func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	var sub sync.WaitGroup
	sub.Go(func() { v.subscribe(ctx) })
	defer func() {
		cancel()
		sub.Wait()
		v.shutdown()
	}()

	// One ticker drives the periodic pass: heartbeats at every tick, the
	// checks against the store every Resync.
	period := v.cfg.tick()
	checkEvery := max(1, int(v.cfg.Resync/period))
	tick := time.NewTicker(period)
	defer tick.Stop()
	// due wakes the loop when messages the cadence held back are due.
	due := time.NewTimer(time.Hour)
	due.Stop()
	defer due.Stop()
	var lastFlush time.Time
	for ticks := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-v.wake:
			v.endNow()
		case <-due.C:
			v.cadenceDueNow()
		case <-tick.C:
			v.beat(v.cfg.Now())
			if ticks++; ticks%checkEvery != 0 {
				continue
			}
			if retire() {
				return
			}
			v.checkSeq(ctx)
			v.periodic()
		}
		if wait := v.cfg.Coalesce - v.cfg.Now().Sub(lastFlush); wait > 0 && !v.coalesce(ctx, wait) {
			return
		}
		v.step(ctx)
		lastFlush = v.cfg.Now()
		v.armCadence(due)
	}
}

// subscribe keeps the event's one subscription up until ctx ends.
func (v *eventView) subscribe(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		err := v.store.Subscribe(ctx, v.eventID, v)
		if ctx.Err() != nil {
			return
		}
		v.log.Warn("Position update subscription ended; retrying", "error", err, "retry_in", backoff)
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
		w.box.fail(ErrClosed)
	}
}

// coalesce waits out the rest of the coalescing window, showing the ends
// of streams that arrive meanwhile at once; false when ctx ended first.
func (v *eventView) coalesce(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-v.wake:
			v.endNow()
		case <-t.C:
			return true
		}
	}
}

// endNow applies what arrived and sends the streams it ends their last
// state at once: READY with its token, LEFT, EXPIRED and COMPLETED do not
// wait for the coalescing window the positions wait for.
func (v *eventView) endNow() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.applyInbox()
	v.showEnds()
}

// applyInbox applies the changes that arrived. Called with v.mu held.
func (v *eventView) applyInbox() {
	changes, resubscribed := v.takeInbox()
	if resubscribed {
		v.st.resubscribed()
	}
	v.applied(v.st.receive(changes))
}

// step applies what arrived, resynchronises if needed, and flushes.
func (v *eventView) step(ctx context.Context) {
	v.mu.Lock()
	v.applyInbox()
	v.st.checkSuspect(v.cfg.Now(), suspectGrace(v.cfg))
	v.logFindings()
	resync := v.st.wantsResync()
	v.mu.Unlock()

	if resync {
		v.resync(ctx)
	}
	v.refreshEvent(ctx)
	v.reread(ctx)

	v.mu.Lock()
	v.flush()
	v.mu.Unlock()
}

// suspectGrace is how long the feed may trail a store sequence number seen by
// a check before the view resynchronises: long enough for a change in flight.
func suspectGrace(cfg Config) time.Duration {
	return min(cfg.Resync/4, time.Second)
}

// resync replaces the waiting set with the store's snapshot.
func (v *eventView) resync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	snap, err := v.store.Snapshot(ctx, v.eventID)
	if err == nil {
		var e queue.Event
		if e, _, err = v.store.Event(ctx, v.eventID); errors.Is(err, queue.ErrEventNotFound) {
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
		v.log.Warn("Failed to resynchronise queue positions; streams keep their last state", "error", err, "retry_in", retry)
		time.AfterFunc(retry, v.poke)
		return
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	regressed, applied := v.st.reset(snap)
	v.backoff = 0
	v.dirty = true
	if regressed {
		// The store lost changes (a restart without persistence): nothing
		// remembered about the sessions can be trusted.
		v.log.Warn("Store's change sequence went backwards; re-reading every watched session", "seq", snap.Seq)
		for w := range v.watchers {
			w.baseSeq = 0
			v.markStale(w)
		}
	}
	v.applied(applied)
	v.fairResynced()
	v.logFindings()
	v.log.Debug("Resynchronised queue positions", "seq", v.st.seq, "queue_length", v.st.queueLength())
}

// checkSeq compares the view's sequence with the store's, to catch a lost
// change even when no later change arrives to reveal the gap, and refreshes
// the event's settings (a moved fair start is shown from here, and changed
// lanes ask for a resync).
func (v *eventView) checkSeq(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	e, stats, err := v.store.Event(ctx, v.eventID)
	if err != nil {
		if !errors.Is(err, queue.ErrEventNotFound) {
			v.counts.storeErrors.Add(1)
			v.log.Debug("Periodic position check failed", "error", err)
		}
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if fairShownOf(e.FairStart.Info()) != fairShownOf(v.event.FairStart.Info()) {
		// A moved start is no change on the feed: this read is how the
		// pre-queue's streams learn of it.
		v.dirty = true
	}
	v.event, v.eventKnown = e, true
	v.st.checkLanes(e.Lanes, stats.Seq)
	if v.st.storeSeq(stats.Seq, v.cfg.Now()) {
		// Give the changes in flight a grace period, then look again.
		time.AfterFunc(suspectGrace(v.cfg), v.poke)
	}
}

// beat sends a heartbeat on every stream that has sent nothing for the
// heartbeat interval. A stream's own reader stamps each send, so this pass is
// all heartbeats cost beyond the messages: no timer or goroutine per stream.
func (v *eventView) beat(now time.Time) {
	if v.cfg.Heartbeat <= 0 {
		return
	}
	due := now.Add(-v.cfg.Heartbeat).UnixNano()
	v.mu.Lock()
	defer v.mu.Unlock()
	for w := range v.watchers {
		if w.started && !w.final && w.lastSent.Load() <= due && !v.releaseHeld(w) {
			w.box.heartbeat()
		}
	}
}

// periodic queues the failed re-reads again, marks the view for a flush
// when the admission rate moved since the last one (it decays when
// admissions stop), so estimated waits do not go stale, and ends the streams
// past their maximum age.
func (v *eventView) periodic() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.st.rate.perSecond(v.cfg.Now()) != v.shownRate {
		v.dirty = true
	}
	for _, w := range v.failedRereads {
		if _, open := v.watchers[w]; open {
			v.rereads = append(v.rereads, w)
		}
	}
	clear(v.failedRereads)
	v.failedRereads = v.failedRereads[:0]
	now := v.cfg.Now().UnixNano()
	for w := range v.watchers {
		if w.endsAt != 0 && now >= w.endsAt && !w.final {
			w.final = true
			w.box.fail(queue.ErrStreamMaxAge)
		}
	}
}
