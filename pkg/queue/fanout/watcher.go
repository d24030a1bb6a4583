package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// Watcher follows one session for one stream: the event's view computes its
// states and puts them in its mailbox.
type Watcher struct {
	sessionID string
	box       mailbox
	hub       *Hub
	view      *eventView // nil for a finished session's watcher, which has none

	// Owned by the event's view and guarded by its mu.
	session queue.Session // the session as last known, with the newest status
	baseSeq uint64        // the change sequence the initial read reflected
	started bool          // the initial read has been merged
	stale   bool          // a re-read is queued
	last    shown         // what was last put in the mailbox
	final   bool          // a status that ends the stream was put in the mailbox
	endsAt  int64         // Unix nanoseconds at which the stream reaches its maximum age; 0: never
	fair    fairState     // the session's fair start, as last read (fairstart.go)

	// nextPosAt is when the cadence lets the next position message go;
	// heldAt is when the oldest change it held back was made (cadence.go).
	// Owned by the view, like the fields above.
	nextPosAt, heldAt int64
	// parkKey is the wheel slot the watcher is parked in (0: the walk
	// list), parkIdx its index there (notListed: in neither), parkSeq the
	// flush that parked it (park.go). Owned by the view.
	parkKey int64
	parkIdx int
	parkSeq uint64

	closed atomic.Bool
	// lastSent is when the reader last took a state to send (Unix
	// nanoseconds; 0: never): the view's heartbeat pass reads it.
	lastSent atomic.Int64
	// spoke is set once the reader took its first state; only the
	// reader touches it.
	spoke bool
	// sentPos is the queued position the reader last sent (lanes.go);
	// only the reader touches it.
	sentPos int64
	// slot: the reader holds a send slot, from Next's return until its
	// next call or Close (sendqueue.go).
	slot atomic.Bool
}

var _ queue.Watch = (*Watcher)(nil)

// finishedWatcher shows an ended session's state once, with no view behind it.
func finishedWatcher(h *Hub, s queue.Session, pl queue.Place) *Watcher {
	w := &Watcher{sessionID: s.ID, box: newMailbox(), hub: h}
	now := h.cfg.Now()
	w.box.put(update{View: queue.View{Session: s, QueueLength: pl.QueueLength, UpdatedAt: now}})
	return w
}

// SessionID is the watched session.
func (w *Watcher) SessionID() string { return w.sessionID }

// Wait returns once Next has a state or an end to return, or with ctx's
// error when ctx ends first. It gives back the send slot, like Next.
func (w *Watcher) Wait(ctx context.Context) error {
	w.releaseSlot() // the caller wrote what the last call returned
	return w.box.wait(ctx)
}

// Next waits for the next state. After a state whose status ends the stream it
// returns io.EOF; it returns ctx's error when ctx ends first, and ErrClosed
// when the hub shuts down.
func (w *Watcher) Next(ctx context.Context) (queue.View, error) {
	w.releaseSlot() // the caller wrote what the last call returned
	var u update
	if err := w.box.next(ctx, &u); err != nil {
		return queue.View{}, err
	}
	if err := w.takeSlot(ctx, &u); err != nil {
		return queue.View{}, err
	}
	now := w.hub.cfg.Now()
	w.lastSent.Store(now.UnixNano())
	if u.Heartbeat {
		// The state is as it was; the server vouches for it now.
		u.UpdatedAt, u.ChangedAt = now, time.Time{}
		w.hub.heartbeats.Add(1)
	}
	w.movedBack(&u.View)
	if !w.spoke {
		w.spoke = true
		u.HeartbeatInterval = max(w.hub.cfg.Heartbeat, 0)
	}
	if u.Session.Status == queue.StatusReady && u.CheckoutURL == "" && !u.eventKnown {
		if err := w.eventCheckoutURL(ctx, &u.View); err != nil {
			return queue.View{}, err
		}
	}
	return u.View, nil
}

// eventCheckoutURL sets v's checkout URL to the event's own, when the view
// had not loaded the event's settings (or the session had ended before any
// view). A view that knows them answers without a store read: 20,000
// streams admitted at once would otherwise each read the event, at the
// moment the store is busiest. Not inlined: the Event it reads would widen
// Next's frame, which every stream's stack holds while it sends.
//
//go:noinline
func (w *Watcher) eventCheckoutURL(ctx context.Context, v *queue.View) error {
	e, _, err := w.hub.store.Event(ctx, v.Session.EventID)
	if err != nil && !errors.Is(err, queue.ErrEventNotFound) {
		return err
	}
	v.CheckoutURL = e.CheckoutURL
	return nil
}

// Close stops the watcher and gives back its share of the event's view. It is
// safe to call more than once.
func (w *Watcher) Close() {
	w.releaseSlot()
	if w.view != nil && w.closed.CompareAndSwap(false, true) {
		w.hub.release(w)
	}
}
