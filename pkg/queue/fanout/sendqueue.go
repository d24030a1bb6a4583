package fanout

import (
	"context"
	"sync"
	"time"
)

// sendsInFlight bounds the stream messages a process writes at once. A flush
// that moves 100,000 streams wakes 100,000 readers together; left to the
// scheduler, a READY among them waits behind whichever ran first. Past this
// many, readers queue by priority instead, and the writes in flight still
// keep one core busy.
const sendsInFlight = 256

// sendStall is how long the slots may all stay held, none given back, before
// the waiters go ahead regardless: a client that never opens its HTTP/2
// flow control holds its slot until the stream write timeout, and a few
// hundred such must not hold up every other stream.
const sendStall = 250 * time.Millisecond

// priority orders the messages waiting for a send slot: lower goes first.
type priority uint8

const (
	// prioFinal: a status that ends the stream (READY with its token,
	// EXPIRED, LEFT, COMPLETED), and a stream's first state.
	prioFinal priority = iota
	// prioRealtime: a position within Config.RealtimePositions of the head.
	prioRealtime
	// prioCadenced: a position further back, and heartbeats.
	prioCadenced
	numPriorities
)

// sendQueue hands out send slots: at most limit held at once, the waiting
// served by priority, first come first served within one.
type sendQueue struct {
	mu       sync.Mutex
	limit    int
	inFlight int
	waiting  [numPriorities]waitList
	// sent counts the slots granted, by priority; queued those that had to
	// wait for one.
	sent   [numPriorities]int64
	queued int64
	// released is when a slot was last given back; guard, while readers
	// wait, looks every sendStall for a stall.
	released time.Time
	guard    *time.Timer
	// stalls counts the waiters let through past the limit.
	stalls int64
}

// sendWaiter is one reader waiting for a slot; granted is closed when it
// has one.
type sendWaiter struct {
	granted chan struct{}
	gone    bool // gave up waiting: pass its slot on
}

// waitList is a FIFO of waiters.
type waitList struct {
	items []*sendWaiter
	head  int
}

func (l *waitList) push(w *sendWaiter) { l.items = append(l.items, w) }

func (l *waitList) pop() *sendWaiter {
	if l.head == len(l.items) {
		return nil
	}
	w := l.items[l.head]
	l.items[l.head] = nil
	if l.head++; l.head == len(l.items) {
		l.items, l.head = l.items[:0], 0
	}
	return w
}

func (l *waitList) len() int { return len(l.items) - l.head }

func newSendQueue(limit int) *sendQueue { return &sendQueue{limit: max(limit, 1)} }

// acquire waits for a send slot for a message of priority p; the caller
// releases it once the message is written. It fails only when ctx ends.
func (q *sendQueue) acquire(ctx context.Context, p priority) error {
	q.mu.Lock()
	if q.inFlight < q.limit {
		q.inFlight++
		q.sent[p]++
		q.mu.Unlock()
		return nil
	}
	w := &sendWaiter{granted: make(chan struct{})}
	q.waiting[p].push(w)
	q.queued++
	if q.guard == nil {
		q.released = time.Now()
		q.guard = time.AfterFunc(sendStall, q.unstall)
	}
	q.mu.Unlock()
	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		select {
		case <-w.granted:
			// Granted meanwhile: hand the slot on.
			q.mu.Unlock()
			q.release()
		default:
			w.gone = true
			q.mu.Unlock()
		}
		return ctx.Err()
	}
}

// release gives a slot back, to the first waiter of the highest priority.
func (q *sendQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released = time.Now()
	if q.inFlight > q.limit {
		q.inFlight-- // one let through by unstall
		return
	}
	if !q.grant() {
		q.inFlight--
	}
}

// grant hands a slot to the first waiter of the highest priority; false
// when none waits. Called with q.mu held.
func (q *sendQueue) grant() bool {
	for p := range numPriorities {
		for w := q.waiting[p].pop(); w != nil; w = q.waiting[p].pop() {
			if !w.gone {
				q.sent[p]++
				close(w.granted)
				return true
			}
		}
	}
	return false
}

// unstall runs every sendStall while readers wait: when no slot was given
// back meanwhile, it lets another limit's worth through, in priority order.
func (q *sendQueue) unstall() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if time.Since(q.released) >= sendStall {
		for range q.limit {
			if !q.grant() {
				break
			}
			q.inFlight++
			q.stalls++
		}
		q.released = time.Now()
	}
	if q.waitingLocked() == 0 {
		q.guard = nil
		return
	}
	q.guard.Reset(sendStall)
}

func (q *sendQueue) waitingLocked() int {
	n := 0
	for p := range numPriorities {
		n += q.waiting[p].len()
	}
	return n
}

// sendStats are the queue's figures for /debug/stats.
type sendStats struct {
	InFlight, Waiting int
	Sent              [numPriorities]int64
	Queued, Stalls    int64
}

func (q *sendQueue) stats() sendStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return sendStats{InFlight: q.inFlight, Waiting: q.waitingLocked(), Sent: q.sent, Queued: q.queued, Stalls: q.stalls}
}

// takeSlot waits for a send slot for u. Ends of streams and first states
// go first, positions near the head next, the rest and heartbeats last.
func (w *Watcher) takeSlot(ctx context.Context, u update) error {
	p := prioCadenced
	switch {
	case u.Session.Status.EndsStream() || !w.spoke:
		p = prioFinal
	case !u.Heartbeat && u.Position <= w.hub.cfg.RealtimePositions:
		p = prioRealtime
	}
	if err := w.hub.sends.acquire(ctx, p); err != nil {
		return err
	}
	w.slot.Store(true)
	return nil
}

// releaseSlot gives back the send slot the reader holds, if any.
func (w *Watcher) releaseSlot() {
	if w.slot.CompareAndSwap(true, false) {
		w.hub.sends.release()
	}
}
