package fanout

import (
	"context"
	"io"
	"math"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// update is one state for a stream, as the view computed it.
type update struct {
	queue.View
	// eventKnown says CheckoutURL is the event's own setting as the view
	// last read it (empty: the server's default), so a Ready state needs no
	// store read to complete it.
	eventKnown bool
}

// mailbox holds the newest state for one stream's reader. The view puts into
// it without ever waiting for the reader, so a slow client only ever skips
// intermediate states, never delays other streams, and never sees an older
// state after a newer one.
type mailbox struct {
	mu     sync.Mutex
	latest update
	has    bool
	// taken is what the reader last took: a state put and then replaced by
	// one equal to taken before the reader came (A, B, A) is no change to it.
	taken shown
	// beat asks the reader to send latest again as a heartbeat.
	beat   bool
	err    error // ends the watch after the mailbox is drained
	notify chan struct{}
}

func newMailbox() mailbox { return mailbox{notify: make(chan struct{}, 1)} }

// shown is the part of a view whose change warrants a new message.
type shown struct {
	status      queue.Status
	position    int64
	queueLength int64
	wait        int // the estimated wait, coarsely (waitStep)
	fair        fairShown
}

func shownOf(v queue.View) shown {
	return shown{v.Session.Status, v.Position, v.QueueLength, waitStep(v.EstimatedWait), fairShownOf(v.FairStart)}
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

// put replaces the mailbox's content with a newer state; replaced says it
// replaced one the reader had not taken, whose change the new state keeps
// the time of (View.ChangedAt) when it is older.
func (b *mailbox) put(u update) (replaced bool) {
	b.mu.Lock()
	if replaced = b.has; replaced && !b.latest.ChangedAt.IsZero() &&
		(u.ChangedAt.IsZero() || b.latest.ChangedAt.Before(u.ChangedAt)) {
		u.ChangedAt = b.latest.ChangedAt
	}
	b.latest, b.has, b.beat = u, true, false
	b.mu.Unlock()
	b.wake()
	return replaced
}

// heartbeat asks the reader to send the state it last took again, as a
// keep-alive. It does nothing when the reader has taken nothing yet, or has
// a new state or the end to take, which it sends anyway.
func (b *mailbox) heartbeat() {
	b.mu.Lock()
	if b.has || b.beat || b.err != nil || b.taken == (shown{}) {
		b.mu.Unlock()
		return
	}
	b.beat = true
	b.mu.Unlock()
	b.wake()
}

// fail ends the watch with err once the mailbox is drained.
func (b *mailbox) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
	b.wake()
}

func (b *mailbox) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// wait returns once next has something to return (a state, a heartbeat or
// the end), or ctx's error when ctx ends first. Its frame is small, unlike
// next's, which holds updates: a reader parked here keeps a shallow stack.
func (b *mailbox) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		ready := b.has || b.beat || b.err != nil
		b.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-b.notify:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next waits for the next state and puts it in u (a pointer: an update
// returned by value would widen every frame on a sending stream's stack).
// After a state whose status ends the stream it returns io.EOF; it returns
// ctx's error when ctx ends first.
//
// It waits in a select on ctx.Done and notify. A context.AfterFunc waking
// notify would leave one channel to wait on, but it costs about 500 bytes per
// open stream (the callback's context and an entry in the parent's children
// map), against one more parked waiter record for the select.
func (b *mailbox) next(ctx context.Context, u *update) error {
	for {
		b.mu.Lock()
		if b.has {
			b.has, b.beat = false, false
			sh := shownOf(b.latest.View)
			if sh == b.taken {
				b.mu.Unlock()
				continue
			}
			b.taken = sh
			*u = b.latest
			if u.Session.Status.EndsStream() && b.err == nil {
				b.err = io.EOF
			}
			b.mu.Unlock()
			return nil
		}
		if b.beat {
			// latest is what the reader took last: a state it replaced
			// before the reader came was equal to it (see taken).
			*u = b.latest
			u.Heartbeat, b.beat = true, false
			b.mu.Unlock()
			return nil
		}
		if err := b.err; err != nil {
			b.mu.Unlock()
			return err
		}
		b.mu.Unlock()
		select {
		case <-b.notify:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
