package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// fstream is one stream's progress through the changes.
type fstream struct {
	ticket int // the session's ticket; position = live tickets below it + 1
	mu     sync.Mutex
	// reached is the last change the stream has shown; pos and ended the
	// state it implies.
	reached int
	pos     int32
	// credited is the last change a message was credited with (at least
	// reached: a recurring state may show a later one), creditPos the
	// position it implies.
	credited  int
	creditPos int32
	ended     waitroomv1.SessionStatus // 0 while queued
	msgs      int
	// The last message received.
	lastPos, lastLen int32
	lastStatus       waitroomv1.SessionStatus
	lastWait         time.Duration
}

func isFinal(s waitroomv1.SessionStatus) bool {
	return s != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED && s != waitroomv1.SessionStatus_SESSION_STATUS_UNSPECIFIED
}

func endStatus(kind int) waitroomv1.SessionStatus {
	if kind == kindAdmit {
		return waitroomv1.SessionStatus_SESSION_STATUS_READY
	}
	return waitroomv1.SessionStatus_SESSION_STATUS_LEFT
}

// streamCheck checks every stream's messages against the queue model and
// tallies them.
type streamCheck struct {
	queue    *queueModel
	streams  []*fstream // stream i is on ticket i+1
	all      hist
	byKind   [numKinds]hist
	credits  atomic.Int64 // (stream, change) pairs given a latency
	unexp    atomic.Int64
	dups     atomic.Int64
	waits    atomic.Int64 // messages that only moved the estimated wait
	msgs     atomic.Int64
	beats    atomic.Int64  // heartbeats: the last state again, by design
	beatSize atomic.Int64  // a heartbeat's protobuf size
	cad      *cadenceCheck // set before any stream opens
	samples  sync.Mutex
	bad      []string
}

func newStreamCheck(q *queueModel, streams int) *streamCheck {
	sc := &streamCheck{queue: q, streams: make([]*fstream, streams)}
	for i := range sc.streams {
		sc.streams[i] = &fstream{ticket: i + 1, pos: int32(i + 1), creditPos: int32(i + 1)}
	}
	return sc
}

func (sc *streamCheck) note(format string, args ...any) {
	sc.samples.Lock()
	if len(sc.bad) < 10 {
		sc.bad = append(sc.bad, fmt.Sprintf(format, args...))
	}
	sc.samples.Unlock()
}

// badSamples are the first unexpected messages, described.
func (sc *streamCheck) badSamples() []string {
	sc.samples.Lock()
	defer sc.samples.Unlock()
	return append([]string(nil), sc.bad...)
}

// onMsg matches a message to the first change since the stream's last match
// whose expected state it equals, and credits every change not yet credited,
// up to the last one it can show, with the time from the change to now (see
// since). Taking the first match never runs ahead of the server (a state can
// recur: a join and then a leave behind restore a queue length), so a later
// message can always be placed; crediting up to the last match the server
// could have made (asked for before the message's updated_at) does not charge
// a stream already showing the newest state with a late pair at its next
// message. Changes a message skipped over are credited by the next one. A
// message matching no state the stream could be in is unexpected (a wrong
// position, or an older state after a newer one); one equal to the message
// before it is a duplicate.
func (sc *streamCheck) onMsg(f *fstream, msg *waitroomv1.PositionUpdate, at time.Time) {
	sc.msgs.Add(1)
	if msg.GetHeartbeat() {
		sc.beats.Add(1)
		sc.beatSize.Store(int64(proto.Size(msg)))
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.msgs == 0 || msg.GetStatus() != f.lastStatus || msg.GetPosition() != f.lastPos || msg.GetQueueLength() != f.lastLen {
			sc.unexp.Add(1)
			sc.note("ticket %d: heartbeat %s %d of %d after %s %d of %d", f.ticket, msg.GetStatus(), msg.GetPosition(),
				msg.GetQueueLength(), f.lastStatus, f.lastPos, f.lastLen)
		}
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, mpos, mlen := msg.GetStatus(), msg.GetPosition(), msg.GetQueueLength()
	if isFinal(st) && (mpos != 0 || st == waitroomv1.SessionStatus_SESSION_STATUS_READY &&
		(msg.GetCheckoutToken() == "" || msg.GetCheckoutUrl() == "")) {
		sc.unexp.Add(1)
		sc.note("ticket %d: %s with position %d, checkout token %t, URL %q", f.ticket, st, mpos,
			msg.GetCheckoutToken() != "", msg.GetCheckoutUrl())
	}
	wait := msg.GetEstimatedWait().AsDuration()
	same := f.msgs > 0 && st == f.lastStatus && (isFinal(st) || mpos == f.lastPos && mlen == f.lastLen)
	dup := same && wait == f.lastWait
	shownPos := f.lastPos // what the stream showed before this message: its cadence
	// The state the stream showed until this message, when it had one.
	prevQueued := f.msgs > 0 && f.lastStatus == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED
	prevLen := f.lastLen
	f.msgs++
	f.lastPos, f.lastLen, f.lastStatus, f.lastWait = mpos, mlen, st, wait
	switch {
	case dup:
		sc.dups.Add(1)
		return
	case f.ended != 0:
		sc.unexp.Add(1)
		sc.note("ticket %d: %s after its final %s", f.ticket, st, f.ended)
		return
	case same:
		// The same place with a new estimate: the admission rate moved
		// (the server re-sends it when it changes by about a tenth). It
		// may show changes since, whose state recurs: a join, then a
		// leave behind the stream.
		sc.waits.Add(1)
	}
	changes := sc.queue.changes
	issued := int(sc.queue.issued.Load())
	// A change the server's state could hold: one asked for before the
	// server worked the state out (updated_at; the tool and a server on
	// loopback share a clock).
	var upd int64
	if u := msg.GetUpdatedAt(); u != nil {
		upd = u.AsTime().UnixNano()
	}
	plausible := func(k int) bool { s := changes[k].sent.Load(); return upd != 0 && s != 0 && s <= upd }
	best, bestEnd, bestPos, last := -1, waitroomv1.SessionStatus(0), int32(0), -1
	// reverts are the changes that brought back the state the stream was
	// showing: from each, it showed the truth again.
	var reverts []int
	pos := f.pos
	start := f.reached + 1
	if f.msgs == 1 || same {
		start = f.reached // the state the stream opened on, or showed last
	}
	for k := f.reached; k <= issued; k++ {
		if best >= 0 && !plausible(k) {
			break
		}
		c := &changes[k]
		if k > f.reached && c.kind != kindJoin {
			if c.ticket == f.ticket {
				if best < 0 && st == endStatus(c.kind) {
					best, bestEnd, last = k, st, k
				}
				break
			}
			if c.ticket < f.ticket {
				pos--
			}
		}
		if k >= start && st == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED && mpos == pos && mlen == c.length {
			if best < 0 {
				best, bestPos = k, pos
			}
			last = k
		}
		if k > f.credited && prevQueued && pos == shownPos && c.length == prevLen {
			reverts = append(reverts, k)
		}
	}
	if best < 0 {
		sc.unexp.Add(1)
		sc.note("ticket %d: got %s position %d length %d, matching no state since change %d (issued %d)",
			f.ticket, st, mpos, mlen, f.reached, issued)
		return
	}
	// The next message is matched from the first change this one can
	// show, so a state that recurs (a join, then a leave behind the
	// stream) never runs the check ahead of the server; changes are
	// credited up to the last it can show, so a change whose state the
	// stream was already showing is not counted late at the message after.
	// A change is credited when the first revert after it was made, if one
	// was: a join, then a leave behind the stream, left it showing the truth
	// without a message.
	r := 0
	for i := f.credited + 1; i <= last; i++ {
		c := &changes[i]
		for r < len(reverts) && reverts[r] < i {
			r++
		}
		shownAt := at
		if r < len(reverts) {
			if t := changes[reverts[r]].ack.Load(); t != 0 && t < at.UnixNano() {
				shownAt = time.Unix(0, t)
			}
		}
		d := since(c, shownAt)
		sc.all.add(d)
		sc.byKind[c.kind].add(d)
		sc.credits.Add(1)
		if c.kind != kindJoin && c.ticket < f.ticket {
			f.creditPos--
		}
		end := i == best && bestEnd != 0
		sc.cad.credit(f.ticket, shownPos, f.creditPos, end, end && bestEnd == waitroomv1.SessionStatus_SESSION_STATUS_READY, d, at)
	}
	f.credited = max(f.credited, last)
	if bestEnd == 0 {
		f.pos = bestPos
	}
	f.reached = best
	f.ended = bestEnd
}

// since is how long after change c a message that arrived at showed it:
// from its acknowledgement, or, when the message came first (the server
// told the stream before the tool heard back), from when it was asked for,
// since the change was made between the two. Counting such a pair as 0
// would flatter the server: READY often reaches its stream first.
func since(c *change, at time.Time) time.Duration {
	if ack := c.ack.Load(); ack != 0 && ack <= at.UnixNano() {
		return at.Sub(time.Unix(0, ack))
	}
	if sent := c.sent.Load(); sent != 0 {
		return max(at.Sub(time.Unix(0, sent)), 0)
	}
	return 0
}

// shows reports whether stream f last showed its final state.
func (fin *finalState) shows(f *fstream) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := fin.ended[f.ticket]; ok {
		return f.lastStatus == endStatus(e.kind)
	}
	return f.lastStatus == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED &&
		f.lastPos == fin.below[f.ticket]+1 && f.lastLen == fin.length
}

// atFinal counts the streams showing their final state.
func (sc *streamCheck) atFinal(fin *finalState) int {
	n := 0
	for _, f := range sc.streams {
		if fin.shows(f) {
			n++
		}
	}
	return n
}

// notAtFinal describes up to 5 streams not showing their final state.
func (sc *streamCheck) notAtFinal(fin *finalState) []string {
	var sample []string
	for _, f := range sc.streams {
		if !fin.shows(f) && len(sample) < 5 {
			f.mu.Lock()
			sample = append(sample, fmt.Sprintf("ticket %d shows %s position %d length %d", f.ticket, f.lastStatus, f.lastPos, f.lastLen))
			f.mu.Unlock()
		}
	}
	return sample
}

// ended counts the streams that showed a final status, which the server
// must end.
func (sc *streamCheck) ended() int64 {
	var n int64
	for _, f := range sc.streams {
		f.mu.Lock()
		if f.ended != 0 {
			n++
		}
		f.mu.Unlock()
	}
	return n
}

// coalesced counts the (stream, change) pairs, up to the change that ended
// the stream's session or else the last, that no message was credited with.
func (sc *streamCheck) coalesced(fin *finalState) int64 {
	changes := len(sc.queue.changes) - 1
	var pairs int64
	for _, f := range sc.streams {
		end := changes
		if e, ok := fin.ended[f.ticket]; ok {
			end = e.at
		}
		pairs += int64(end)
	}
	return pairs - sc.credits.Load()
}
