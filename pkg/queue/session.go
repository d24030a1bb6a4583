package queue

import "time"

// Status is where a session is in its life. Statuses only move forward:
// Queued → Ready → Completed or Expired, or Queued → Left or Expired.
type Status uint8

// The session statuses. The zero value is not a status.
const (
	StatusQueued Status = iota + 1
	StatusReady
	StatusCompleted
	StatusExpired
	StatusLeft
)

// String returns the lower-case name used in logs and pub/sub messages.
func (s Status) String() string {
	switch s {
	case StatusQueued:
		return "queued"
	case StatusReady:
		return "ready"
	case StatusCompleted:
		return "completed"
	case StatusExpired:
		return "expired"
	case StatusLeft:
		return "left"
	}
	return "unknown"
}

// EndsStream reports whether a position stream ends after sending this status.
func (s Status) EndsStream() bool { return s >= StatusReady }

// Live reports whether the session still holds a place or a checkout slot, so a
// second join by the same user returns it instead of creating another.
func (s Status) Live() bool { return s == StatusQueued || s == StatusReady }

// Stage orders statuses so that a newer one can be told from an older one.
func (s Status) Stage() int {
	switch s {
	case StatusQueued:
		return 1
	case StatusReady:
		return 2
	case StatusCompleted, StatusExpired, StatusLeft:
		return 3
	}
	return 0
}

// Session is one user's stay in one event's waiting room.
type Session struct {
	ID      string
	UserID  string
	EventID string
	// Ticket is the session's arrival number in its event: 1 for the first join,
	// then 2, 3, … It never changes, and queue order is ticket order.
	Ticket uint64
	Status Status
	// JoinedAt is when the session was created; ExpiresAt = JoinedAt + session TTL.
	JoinedAt  time.Time
	ExpiresAt time.Time
	// AdmittedAt and CheckoutDeadline are set once the session is admitted: the
	// slot is freed if checkout is not completed by the deadline.
	AdmittedAt       time.Time
	CheckoutDeadline time.Time
	// EndedAt is when the session completed, expired or left.
	EndedAt time.Time
	// HeldUntil is set while the session is queued with its place held
	// (presence.go): admission passed over it while it was away, and it
	// expires at HeldUntil unless it comes back.
	HeldUntil time.Time
	// Lane is the priority lane the session joined (lane.go); "" in an
	// event without lanes.
	Lane string
}

// Place is where a queued session stands, read atomically with the event's
// change sequence number.
type Place struct {
	// Position is 1-based; 0 when the session is not queued.
	Position int64
	// QueueLength is how many sessions of the event are waiting.
	QueueLength int64
	// Seq is the event's change sequence number this place reflects.
	Seq uint64
	// PreQueue says the session joined its event's fair-start pre-queue
	// (whatever its status now).
	PreQueue bool
	// Unplaced says the pre-queue is not placed yet: Position and
	// QueueLength are then both the event's queue length, the furthest back
	// the session can be placed.
	Unplaced bool
}
