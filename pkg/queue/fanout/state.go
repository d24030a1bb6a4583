package fanout

import (
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

// maxPending bounds the changes buffered while a view resynchronises or its
// loop is busy; past it the backlog is dropped for a resync.
const maxPending = 100_000

// state is one event's waiting set as this process knows it: the tickets in
// queue order, the sequence number of the last change they reflect, and the
// decisions of when memory can no longer be trusted and must be read again
// from the store. It is plain data: no goroutines, no locks, no clock (every
// method that needs the time is given it), so it is tested step by step.
type state struct {
	tickets *ticketset.Set
	seq     uint64
	// subscribed: the subscription has been established at least once, so
	// a snapshot taken now is followed by every change the feed delivers.
	subscribed bool
	// synced: tickets reflect a snapshot plus every change since.
	synced     bool
	needResync bool
	// suspectSeq is a store sequence number seen ahead of seq, at suspectAt:
	// a change the feed may have lost, or one still in flight.
	suspectSeq uint64
	suspectAt  time.Time
	pending    []queue.Change
	// news is why memory was last found wrong, for the loop to log.
	news []finding

	// rate has a lock of its own, the one exception to plain data: joins
	// read it for their estimated wait without waiting for the view.
	rate admissionRate
	// rateSeq is the newest admission change counted in rate: a change a
	// snapshot already covered still counts, once.
	rateSeq uint64
	// lanes are the event's priority lanes (lanes.go); nil without.
	lanes *laneView
}

// finding is a reason memory was found wrong, with its log attributes.
type finding struct {
	warn  bool
	msg   string
	attrs []any
}

// findings returns and forgets what was found since the last call.
func (s *state) findings() []finding {
	f := s.news
	s.news = nil
	return f
}

func (s *state) found(warn bool, msg string, attrs ...any) {
	s.needResync = true
	s.news = append(s.news, finding{warn, msg, attrs})
}

func newState(now time.Time) *state {
	return &state{tickets: ticketset.New(), rate: admissionRate{since: now}}
}

// resubscribed records that the subscription was (re)established: whatever
// was published while it was down is gone, so memory needs a snapshot.
func (s *state) resubscribed() {
	s.subscribed = true
	s.needResync = true
}

// receive buffers changes from the feed and applies those that follow in
// sequence; it returns the applied ones, in order. A gap stops the applying
// and asks for a resync; the changes after it wait for the snapshot.
func (s *state) receive(changes []queue.Change) (applied []queue.Change) {
	s.pending = append(s.pending, changes...)
	if n := len(s.pending) - maxPending; n > 0 {
		s.pending = append(s.pending[:0], s.pending[n:]...)
	}
	return s.applyPending()
}

func (s *state) applyPending() (applied []queue.Change) {
	i := 0
	for ; i < len(s.pending) && s.synced && !s.needResync; i++ {
		c := s.pending[i]
		switch {
		case c.Seq <= s.seq:
			// Already in the snapshot, or a duplicate; its admissions still
			// count towards the rate.
			s.countAdmissions(c)
		case c.Seq > s.seq+1:
			s.found(false, "Missed position updates; resynchronising", "seq", s.seq, "received_seq", c.Seq)
			i-- // keep it for after the resync
		default:
			s.apply(c)
			applied = append(applied, c)
		}
	}
	if s.synced && !s.needResync {
		s.pending = s.pending[:0]
	} else if i > 0 {
		s.pending = append(s.pending[:0], s.pending[i:]...)
	}
	return applied
}

func (s *state) apply(c queue.Change) {
	for _, cs := range c.Sessions {
		if cs.Status == queue.StatusQueued {
			s.tickets.Insert(cs.Ticket)
		} else {
			s.tickets.Remove(cs.Ticket)
		}
	}
	s.seq = c.Seq
	s.laneApply(c)
	s.countAdmissions(c)
	if s.tickets.Len() != c.QueueLength {
		// The feed and the store disagree: trust the store.
		s.found(true, "Queue length differs from the store's; resynchronising",
			"seq", c.Seq, "local", s.tickets.Len(), "store", c.QueueLength)
	}
}

func (s *state) countAdmissions(c queue.Change) {
	if c.Kind == queue.ChangeAdmitted && c.Seq > s.rateSeq {
		s.rateSeq = c.Seq
		s.rate.add(c.At, len(c.Sessions))
	}
}

// checkSuspect settles a pending suspicion: cleared when the feed caught up,
// turned into a resync once it has outlived grace.
func (s *state) checkSuspect(now time.Time, grace time.Duration) {
	switch {
	case s.suspectSeq == 0:
	case s.seq >= s.suspectSeq:
		s.suspectSeq = 0
	case now.Sub(s.suspectAt) >= grace:
		s.found(false, "Change feed fell behind the store; resynchronising", "seq", s.seq, "store_seq", s.suspectSeq)
	}
}

// wantsResync reports whether memory must be replaced by a snapshot now.
func (s *state) wantsResync() bool { return s.subscribed && (s.needResync || !s.synced) }

// reset replaces the waiting set with a snapshot and applies the buffered
// changes that follow it. regressed reports that the store's sequence went
// backwards: the store lost changes, and nothing remembered about any
// session can be trusted.
func (s *state) reset(snap queue.Snapshot) (regressed bool, applied []queue.Change) {
	regressed = snap.Seq < s.seq
	s.tickets.Reset(snap.Tickets)
	s.laneReset(snap)
	s.seq = snap.Seq
	s.synced, s.needResync, s.suspectSeq = true, false, 0
	return regressed, s.applyPending()
}

// storeSeq compares the store's sequence, read by a periodic check, with
// memory's: behind means the store lost changes (resync), ahead means a
// change may have been lost on the way. It reports whether a new suspicion
// started, so the caller looks again after the grace period.
func (s *state) storeSeq(seq uint64, now time.Time) (suspect bool) {
	switch {
	case !s.synced:
	case seq < s.seq:
		s.needResync = true
	case seq > s.seq:
		if s.suspectSeq <= s.seq {
			// No suspicion pending (or an old one the feed has passed).
			s.suspectSeq, s.suspectAt = seq, now
			return true
		}
	default:
		s.suspectSeq = 0
	}
	return false
}

// covers reports whether memory reflects at least the change sequence
// readSeq (what a session read saw), so positions computed from it are no
// older than that read.
func (s *state) covers(readSeq uint64) bool { return s.synced && s.seq >= readSeq }

// position is a waiting ticket's 1-based place in the admission order (in
// lane, in an event with lanes); ok is false when the ticket is not in the
// waiting set.
func (s *state) position(ticket uint64, lane string) (pos int64, ok bool) {
	if s.lanes != nil {
		return s.lanePosition(ticket, lane)
	}
	if !s.tickets.Contains(ticket) {
		return 0, false
	}
	return s.tickets.Rank(ticket) + 1, true
}

// queueLength is how many are waiting.
func (s *state) queueLength() int64 { return s.tickets.Len() }
