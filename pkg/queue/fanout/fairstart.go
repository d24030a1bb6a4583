package fanout

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// A fair start's placement (queue.ChangePlaced) moves the pre-queue's
// sessions to new tickets without a word about which: a change listing
// 100,000 sessions would not fit pub/sub or Kafka well. The waiting set is
// the same, so memory stays right, and the view works the new tickets out
// with two reads, whatever the number of streams: the event (for the
// pre-queue's first ticket, the count placed and the seed) and the placed
// order (Store.PreQueue). The i-th placed session holds the i-th smallest
// of the pre-queue's tickets as they were at the placement, which the view
// keeps from the moment it applies the change. Until then a pre-queue
// stream shows its last state, the pre-queue's bound: never a wrong exact
// position. Should the reads fail, or the view miss the change, the
// pre-queue's watchers re-read their sessions one by one instead.

// placement is a placement the view applied and has still to deal out.
type placement struct {
	seq uint64
	// tickets are the waiting tickets as of seq, ascending.
	tickets []uint64
	tries   int
}

// maxPlacementTries bounds the attempts to read a placement's event and
// order (a replica's cached event may trail it for a moment) before the
// view falls back to re-reading the sessions.
const maxPlacementTries = 5

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

// fairApplied notes the newest placement among applied changes, with the
// waiting tickets as of it: memory has applied every change of the batch,
// so the tickets later ones took out of the queue are put back (those they
// added are later arrivals', above the pre-queue). Called with v.mu held.
func (v *eventView) fairApplied(changes []queue.Change) {
	at := -1
	for i, c := range changes {
		if c.Kind == queue.ChangePlaced {
			at = i
		}
	}
	if at < 0 {
		return
	}
	seq := changes[at].Seq
	v.placedAt = max(v.placedAt, seq)
	tickets := make([]uint64, 0, v.st.tickets.Len())
	v.st.tickets.Ascend(func(t uint64) bool { tickets = append(tickets, t); return true })
	for _, c := range changes[at+1:] {
		for _, cs := range c.Sessions {
			if cs.Status != queue.StatusQueued {
				tickets = append(tickets, cs.Ticket)
			}
		}
	}
	slices.Sort(tickets)
	v.placing = &placement{seq: seq, tickets: slices.Compact(tickets)}
	v.eventStale = true
	v.poke()
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
// pre-queue watcher made them stale, and deals a placement out.
func (v *eventView) refreshEvent(ctx context.Context) {
	v.mu.Lock()
	stale, p := v.eventStale, v.placing
	v.eventStale = false
	v.mu.Unlock()
	if !stale && p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	e, _, err := v.store.Event(ctx, v.eventID)
	var order []string
	if err == nil && p != nil && e.FairStart.PlacedSeq == p.seq {
		order, err = v.store.PreQueue(ctx, v.eventID)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil && !errors.Is(err, queue.ErrEventNotFound) {
		v.log.Debug("Failed to read the event's fair start", "error", err)
	}
	if err == nil {
		v.event, v.eventKnown, v.dirty = e, true, true
	}
	if p == nil || v.placing != p {
		return
	}
	if err == nil && e.FairStart.PlacedSeq == p.seq && v.deal(p, e.FairStart, order) {
		v.placing = nil
		return
	}
	p.tries++
	switch {
	case p.tries >= maxPlacementTries || err != nil:
		v.placing = nil
		v.fairResynced() // one by one, then
	default:
		v.eventStale = true // the event read trails the placement: again next step
		time.AfterFunc(suspectGrace(v.cfg)/4, v.poke)
	}
}

// deal gives the watchers of placed sessions their new tickets; false when
// the placement does not fit memory. Called with v.mu held.
func (v *eventView) deal(p *placement, fs queue.FairStart, order []string) bool {
	i, _ := slices.BinarySearch(p.tickets, fs.After+1)
	if int64(len(order)) != fs.Placed || len(p.tickets)-i < len(order) {
		return false
	}
	dealt := p.tickets[i : i+len(order)]
	for k, id := range order {
		for _, w := range v.bySession[id] {
			if w.fair.unplaced && w.baseSeq < p.seq && !w.stale {
				w.session.Ticket, w.baseSeq, w.fair.unplaced = dealt[k], p.seq, false
			}
		}
	}
	// Watchers of sessions that were not placed (they left or expired
	// before the start) learn it from a read.
	v.fairResynced()
	v.dirty = true
	return true
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
