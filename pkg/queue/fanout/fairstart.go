package fanout

import (
	"context"
	"errors"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// A fair start's placement (queue.ChangePlaced) moves the pre-queue's
// sessions to new tickets without a word about which: a change listing
// 100,000 sessions would not fit pub/sub or Kafka well. The waiting set is
// the same, so memory stays right; only the watchers of pre-queue sessions
// re-read their session (maxRereads at a time), and the view re-reads the
// event for the revealed seed. Until its re-read, such a watcher shows
// its last state: the pre-queue's bound, never a wrong exact position.

// fairState is a watcher's fair-start state as its last read gave it.
type fairState struct {
	preQueue bool // the session joined the pre-queue
	unplaced bool // and it was not placed yet: its position is hidden
}

// placedSince reports whether a placement the view knows of is newer than
// the watcher's read. Called with v.mu held.
func (v *eventView) placedSince(w *Watcher) bool {
	return w.fair.unplaced && v.placedSeq() > w.baseSeq
}

// placedSeq is the newest placement the view has heard of. Called with v.mu held.
func (v *eventView) placedSeq() uint64 {
	return max(v.placedAt, v.event.FairStart.PlacedSeq)
}

// fairApplied handles a placement among applied changes: the pre-queue's
// watchers re-read their sessions, the view its event. Called with v.mu held.
func (v *eventView) fairApplied(c queue.Change) {
	if c.Kind != queue.ChangePlaced {
		return
	}
	v.placedAt = max(v.placedAt, c.Seq)
	v.eventStale = true
	for w := range v.watchers {
		if v.placedSince(w) {
			v.markStale(w)
		}
	}
}

// fairResynced re-reads the watchers whose placement a resync found (the
// feed lost the change). Called with v.mu held.
func (v *eventView) fairResynced() {
	for w := range v.watchers {
		if v.placedSince(w) {
			v.markStale(w)
		}
	}
}

// fairStarted notes a starting watcher's fair start. Called with v.mu held.
func (v *eventView) fairStarted(w *Watcher, pl queue.Place) {
	w.fair = fairState{preQueue: pl.PreQueue, unplaced: pl.Unplaced}
	if pl.PreQueue && !v.event.FairStart.On() {
		v.eventStale = true // set after the view last read the event
		v.poke()
	}
}

// fairInfo is what a watcher's update shows of the fair start.
func (v *eventView) fairInfo(w *Watcher) *queue.FairStartInfo {
	if !w.fair.preQueue {
		return nil
	}
	i := v.event.FairStart.Info()
	if i != nil && w.fair.unplaced && w.session.Status == queue.StatusQueued {
		// Its read was before the placement the event shows: unplaced, as
		// its place is, until the re-read.
		i.PlacedAt, i.Placed, i.Seed = time.Time{}, 0, ""
	}
	return i
}

// refreshEvent re-reads the event's settings when a placement or a new
// pre-queue watcher made them stale.
func (v *eventView) refreshEvent(ctx context.Context) {
	v.mu.Lock()
	stale := v.eventStale
	v.eventStale = false
	v.mu.Unlock()
	if !stale {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	e, _, err := v.store.Event(ctx, v.eventID)
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case err == nil:
		v.event, v.eventKnown, v.dirty = e, true, true
		v.fairResynced()
	case !errors.Is(err, queue.ErrEventNotFound):
		v.eventStale = true // the next step tries again
		v.log.Debug("Failed to read the event's fair start", "error", err)
	}
}

// fairShown is what of a fair start warrants a new message: its start
// moving, and its placement.
type fairShown struct {
	startsAt int64
	placed   bool
}

func fairShownOf(i *queue.FairStartInfo) fairShown {
	if i == nil {
		return fairShown{}
	}
	return fairShown{i.SaleStartsAt.UnixNano(), i.Seed != ""}
}
