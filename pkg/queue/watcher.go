package queue

import (
	"context"
	"io"
	"math"
	"sync"
	"time"
)

// Watcher follows one session for one stream. The event's view puts the newest
// state in its one-slot mailbox without ever waiting for the reader, so a slow
// client only ever skips intermediate states, never delays other streams, and
// never sees an older state after a newer one.
type Watcher struct {
	sessionID string
	view      *eventView

	// Owned by the view and guarded by view.mu.
	session Session // the session as last known, with the newest status
	baseSeq uint64  // the change sequence the initial read reflected
	started bool    // the initial read has been merged
	stale   bool    // a re-read is queued
	last    shown   // what was last put in the mailbox
	final   bool    // a status that ends the stream was put in the mailbox

	mu     sync.Mutex
	latest View
	has    bool
	// taken is what the reader last took: a state put and then replaced by
	// one equal to taken before the reader came (A, B, A) is no change to it.
	taken  shown
	err    error // ends the watch after the mailbox is drained
	notify chan struct{}
	closed bool
}

// shown is the part of a view whose change warrants a new message.
type shown struct {
	status      Status
	position    int64
	queueLength int64
	wait        int // the estimated wait, coarsely (waitStep)
}

func shownOf(v View) shown {
	return shown{v.Session.Status, v.Position, v.QueueLength, waitStep(v.EstimatedWait)}
}

// waitStep buckets an estimated wait so that a stream is told when its
// estimate moves by about a tenth (or becomes unknown), not at every
// wobble of the rate: 0 is unknown, then steps of 10% on a log scale.
func waitStep(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return 1 + int(math.Round(math.Log(d.Seconds()+1)/math.Log(1.1)))
}

// finishedWatcher shows an ended session's state once, with no view behind it.
func finishedWatcher(s Session, pl Place, now time.Time) *Watcher {
	w := &Watcher{sessionID: s.ID, notify: make(chan struct{}, 1), closed: true}
	w.put(View{Session: s, QueueLength: pl.QueueLength, UpdatedAt: now})
	return w
}

func newWatcher(v *eventView, sessionID string) *Watcher {
	return &Watcher{sessionID: sessionID, view: v, notify: make(chan struct{}, 1)}
}

// SessionID is the watched session.
func (w *Watcher) SessionID() string { return w.sessionID }

// put replaces the mailbox's content with a newer view.
func (w *Watcher) put(v View) {
	w.mu.Lock()
	w.latest, w.has = v, true
	w.mu.Unlock()
	w.wake()
}

// fail ends the watch with err once the mailbox is drained.
func (w *Watcher) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.wake()
}

func (w *Watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Next waits for the next state. After a state whose status ends the stream it
// returns io.EOF; it returns ctx's error when ctx ends first, and
// ErrHubClosed when the server shuts down.
//
// It waits in a select on ctx.Done and notify. A context.AfterFunc waking
// notify would leave one channel to wait on, but it costs about 500 bytes per
// open stream (the callback's context and an entry in the parent's children
// map), against one more parked waiter record for the select.
func (w *Watcher) Next(ctx context.Context) (View, error) {
	for {
		w.mu.Lock()
		if w.has {
			v := w.latest
			w.has = false
			sh := shownOf(v)
			if sh == w.taken {
				w.mu.Unlock()
				continue
			}
			w.taken = sh
			if v.Session.Status.EndsStream() && w.err == nil {
				w.err = io.EOF
			}
			w.mu.Unlock()
			return v, nil
		}
		if err := w.err; err != nil {
			w.mu.Unlock()
			return View{}, err
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-ctx.Done():
			return View{}, ctx.Err()
		}
	}
}

// Close stops the watcher and releases its share of the event's view. It is
// safe to call more than once.
func (w *Watcher) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	w.view.unregister(w)
	w.view.hub.release(w.view)
}
