package queue

import "time"

// ChangeKind names what a Change did.
type ChangeKind uint8

// The kinds of change. Their String values are the pub/sub update_type names.
const (
	ChangeJoined ChangeKind = iota + 1
	ChangeLeft
	ChangeAdmitted
	ChangeCompleted
	ChangeExpired
	// ChangePlaced placed a fair start's pre-queue: no session entered or
	// left the waiting set, but the pre-queue's sessions hold new tickets.
	ChangePlaced
)

// String returns the update_type name announced on pub/sub.
func (k ChangeKind) String() string {
	switch k {
	case ChangeJoined:
		return "user_joined"
	case ChangeLeft:
		return "user_left"
	case ChangeAdmitted:
		return "user_admitted"
	case ChangeCompleted:
		return "checkout_completed"
	case ChangeExpired:
		return "session_expired"
	case ChangePlaced:
		return "pre_queue_placed"
	}
	return "unknown"
}

// ParseChangeKind is the inverse of ChangeKind.String; ok is false for an
// unknown name.
func ParseChangeKind(s string) (k ChangeKind, ok bool) {
	for k := ChangeJoined; k <= ChangePlaced; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// Change is one atomic state change of an event, as the store announces it to
// every replica (and records it in its outbox when that is on). It carries
// enough for a replica to update its in-memory view of the queue without
// reading anything back.
type Change struct {
	EventID string
	// Seq numbers the event's changes 1, 2, 3, … without gaps, so a subscriber
	// that sees Seq jump knows it missed a change and must resynchronise.
	Seq  uint64
	Kind ChangeKind
	// Sessions are the sessions the change affected, with their new status.
	Sessions []ChangedSession
	// QueueLength is how many sessions are waiting after the change.
	QueueLength int64
	// At is when the change happened.
	At time.Time
	// CheckoutDeadline is set for ChangeAdmitted: the admitted sessions' deadline.
	CheckoutDeadline time.Time
	// Lanes is set on every change of an event with lanes: its lanes and
	// round-robin after the change, so a replica computes lane-aware
	// positions without reading anything back.
	Lanes *LaneState
}

// ChangedSession is one session a Change affected.
type ChangedSession struct {
	ID     string
	UserID string
	// Ticket is the session's arrival number; it leaves the waiting set when the
	// change takes the session out of the queue.
	Ticket uint64
	// Status is the session's status after the change.
	Status Status
	// Reason says why, for a session a ChangeExpired ended.
	Reason ExpiryReason
	// Lane is the session's lane ("" in an event without lanes).
	Lane string
}
