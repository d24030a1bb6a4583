package queue

import (
	"context"
	"time"
)

// Store keeps the waiting room's state. Every method that changes state does so
// atomically and, when it changes anything, announces exactly one [Change] with
// the event's next sequence number to the event's subscribers (and appends it to
// the outbox when the store was built with one). Methods that change nothing
// announce nothing. Every method must be safe to call from many goroutines and
// from many replicas sharing the store, and safe to retry after a timeout.
//
// Methods return ErrUnavailable (wrapped) when the backing service cannot be
// reached, ErrTimeout (wrapped) when it is reached but does not answer within
// the store's own deadline, and never block past their context.
type Store interface {
	// Join creates a queued session, or returns the user's live (queued or
	// ready) session for the event with created=false and changes nothing.
	// An unknown event is first registered as p.NewEvent. A closed event refuses
	// new sessions with ErrEventClosed. The new session takes the event's next
	// ticket, so queue order is arrival order. Announces ChangeJoined.
	Join(ctx context.Context, p JoinParams) (s Session, pl Place, created bool, err error)

	// Session returns a session and, when it is queued, its place, read
	// atomically. Unknown ids give ErrSessionNotFound. Ended sessions stay
	// readable for at least the session TTL after they end.
	Session(ctx context.Context, id string) (Session, Place, error)

	// Leave takes a queued session out of its queue (status Left). Any other
	// status gives a *StatusError wrapping ErrNotQueued. Announces ChangeLeft.
	Leave(ctx context.Context, id string, now time.Time) (Session, error)

	// Complete ends an admitted session's checkout (status Completed) and frees
	// its slot. Any other status gives a *StatusError wrapping ErrNotAdmitted.
	// So does an admitted session whose CheckoutDeadline is at or before now,
	// with Status StatusExpired, whether or not Expire has run since: the
	// window closes at the deadline, and the session is left as it is (still
	// Ready, holding its slot) for Expire to end. Announces ChangeCompleted.
	Complete(ctx context.Context, id string, now time.Time) (Session, error)

	// Admit admits queued sessions of an active event from the head of its queue
	// while fewer than the event's MaxConcurrent hold a slot, at most limit of
	// them, and returns them (status Ready, AdmittedAt now, CheckoutDeadline now +
	// the event's CheckoutWindow). A paused or closed event admits nobody.
	// Announces one ChangeAdmitted listing all admitted sessions.
	Admit(ctx context.Context, eventID string, now time.Time, limit int) ([]Session, error)

	// Expire ends, with status Expired, at most limit sessions of the event:
	// queued ones whose ExpiresAt has passed (they leave the queue) and admitted
	// ones whose CheckoutDeadline has passed (their slot is freed). It returns
	// them and announces one ChangeExpired listing them.
	Expire(ctx context.Context, eventID string, now time.Time, limit int) ([]Session, error)

	// PutEvent creates or replaces an event's settings and returns them as stored.
	PutEvent(ctx context.Context, e Event) (Event, error)
	// Event returns an event's settings and counts; ErrEventNotFound if unknown.
	Event(ctx context.Context, id string) (Event, EventStats, error)
	// Events returns every event, ordered by id. It costs O(every event the
	// store knows); only operators' listings call it.
	Events(ctx context.Context) ([]Event, error)

	// LiveEvents returns, ordered by id, the events the processor has work
	// for: those with live (queued or ready) sessions or unrelayed outbox
	// entries. It costs O(live events), however many events the store has
	// seen. An event may stay listed until the first Expire after it went
	// idle; one with a live session or an outbox entry is always listed
	// (each store says how it repairs its list after a crash).
	LiveEvents(ctx context.Context) ([]Event, error)

	// ForgetIdle forgets, keys and all, at most limit events that have been
	// idle since at least idleFor before now: no live session, no outbox
	// entry, no ended session still to be kept readable, and settings that
	// a join registered (never written by PutEvent). It returns how many it
	// forgot. A forgotten event that is joined again starts afresh, except
	// that its changes keep numbering after the last Seq it ever used, so a
	// Seq (and a Kafka record id) never repeats. Its cost does not grow with
	// the number of events that are not due.
	ForgetIdle(ctx context.Context, now time.Time, idleFor time.Duration, limit int) (int, error)

	// Snapshot returns the event's waiting tickets in queue order and the
	// sequence number of the last change they reflect, read atomically. An
	// unknown event has no tickets and sequence 0.
	Snapshot(ctx context.Context, eventID string) (Snapshot, error)

	// Subscribe delivers the event's changes to h until ctx ends, then returns
	// ctx's error. h.Subscribed is called each time the subscription is
	// (re)established; changes made while it was down are not delivered, so the
	// subscriber resynchronises with Snapshot then. Delivery is in order, but
	// a store may drop changes (pub/sub is at-most-once): a jump in Seq says so.
	// h's methods must not block.
	Subscribe(ctx context.Context, eventID string, h ChangeHandler) error

	// Ping checks that the store can be reached.
	Ping(ctx context.Context) error

	// PresenceStore admits by presence (presence.go). Expire also ends held
	// sessions whose HeldUntil has passed and that are absent then (one
	// marked present gets HeldUntil = the end of its presence instead), and
	// Admit admits held sessions like any other.
	PresenceStore
	// FairStarter places fair starts' pre-queues. An event whose pre-queue
	// is unplaced (FairStart.Holding) admits nobody; Join, Session and
	// PutEvent follow the rules in FairStart's doc.
	FairStarter
	// EventAdminStore changes some settings, deletes events and pages the
	// events (admin.go). Admit and AdmitPresent also admit at most what
	// the event's admission-rate bucket allows at now, and take what they
	// admit from it in the same atomic step.
	EventAdminStore
	// StatsStore keeps each event's totals, recent admissions and waits,
	// counted with the changes that cause them, and the replicas' reports
	// of their open streams (stats.go).
	StatsStore
}

// JoinParams are the inputs of Store.Join. The caller validates them.
type JoinParams struct {
	// SessionID is the id for a new session, made by NewSessionID(EventID).
	SessionID string
	UserID    string
	EventID   string
	Now       time.Time
	// TTL is how long a new session may wait: ExpiresAt = Now + TTL.
	TTL time.Duration
	// NewEvent is registered when the event is unknown.
	NewEvent Event
	// Lane is the lane a trusted source named ("" for the event's default);
	// the store resolves it against the event's lanes (Event.LaneOf).
	Lane string
}

// Check is what a store verifies before a join touches anything: the session
// id is one of the event's (so a store can key the session by the event), and
// the user id is valid.
func (p JoinParams) Check() error {
	if ValidateSessionID(p.SessionID) != nil || EventOfSession(p.SessionID) != p.EventID {
		return &InvalidArgumentError{Field: "session_id", Reason: "not a session id of event " + p.EventID}
	}
	return ValidateUserID(p.UserID)
}

// Snapshot is an event's waiting set at one change sequence number.
type Snapshot struct {
	// Tickets are the waiting sessions' tickets, ascending (queue order).
	Tickets []uint64
	Seq     uint64
	// Lanes is set for an event with lanes: its lanes and round-robin, and
	// TicketLanes the lane of each ticket in Tickets.
	Lanes       *LaneState
	TicketLanes []string
}

// ChangeHandler receives a subscription's changes. Its methods must return
// quickly and never block: a store may call them while holding a lock.
type ChangeHandler interface {
	// Subscribed is called when the subscription is (re)established.
	Subscribed()
	// Change is called for each change received, in order.
	Change(Change)
}

// Outbox is implemented by stores built with an outbox: every announced Change
// is also recorded durably, in the same atomic step as the state change, until
// a relay acknowledges it. The Kafka relay drains it.
type Outbox interface {
	// ClaimOutbox hands the event's outbox to one claimant (a relay) at a time, so that
	// its changes can be relayed in order. While another claimant holds a
	// claim it made or renewed less than minIdle ago, it returns nothing.
	// Otherwise it renews the claimant's own claims (so they never go idle
	// while it keeps calling), and returns up to n entries for it, in Seq
	// order: entries other claimants claimed more than minIdle ago (a dead
	// relay's), then entries never claimed. n may be 0, to renew only. An
	// entry that cannot be decoded comes back with Err set; acking it drops it.
	ClaimOutbox(ctx context.Context, eventID, claimant string, n int, minIdle time.Duration) ([]OutboxEntry, error)
	// AckOutbox removes relayed entries.
	AckOutbox(ctx context.Context, eventID string, ids []string) error
	// OutboxLen is how many entries of the event are waiting to be relayed.
	OutboxLen(ctx context.Context, eventID string) (int64, error)
}

// OutboxEntry is one recorded change.
type OutboxEntry struct {
	// ID identifies the entry within its event's outbox.
	ID     string
	Change Change
	// Err says the entry could not be read back (written by a build that
	// knows a kind of change this one does not, or corrupted); Change is
	// then empty.
	Err error
}
