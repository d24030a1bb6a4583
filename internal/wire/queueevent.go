package wire

import (
	"fmt"
	"strconv"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// QueueEvent types: what happened, as QueueEvent.type names it. The Kafka
// adapter produces each on the topic of the same name.
const (
	TypeJoined    = "queue.joined"
	TypeLeft      = "queue.left"
	TypeAdmitted  = "queue.admitted"
	TypeExpired   = "queue.expired"
	TypeCompleted = "queue.completed"
	// TypePlaced: a fair start's pre-queue was placed. It lists no sessions
	// (the pre-queue's sessions hold new tickets, read them from the admin
	// API's ListPreQueue); it keeps the event's seq without gaps.
	TypePlaced = "queue.placed"
)

// QueueEventID is the id of an event's change number seq: "<event_id>:<seq>".
// It is deterministic, so a change relayed twice (after a crash) carries the
// same id and consumers can drop the copy.
func QueueEventID(eventID string, seq uint64) string {
	return eventID + ":" + strconv.FormatUint(seq, 10)
}

// QueueEventType returns the QueueEvent type of a change kind; ok is false
// for a kind that has none.
func QueueEventType(k queue.ChangeKind) (typ string, ok bool) {
	switch k {
	case queue.ChangeJoined:
		return TypeJoined, true
	case queue.ChangeLeft:
		return TypeLeft, true
	case queue.ChangeAdmitted:
		return TypeAdmitted, true
	case queue.ChangeExpired:
		return TypeExpired, true
	case queue.ChangeCompleted:
		return TypeCompleted, true
	case queue.ChangePlaced:
		return TypePlaced, true
	}
	return "", false
}

// QueueEvent converts a change to the message its Kafka record carries. A
// change of a kind without a type is an error.
func QueueEvent(c queue.Change) (*waitroomv1.QueueEvent, error) {
	typ, ok := QueueEventType(c.Kind)
	if !ok {
		return nil, fmt.Errorf("wire: change %s has unknown kind %d", QueueEventID(c.EventID, c.Seq), c.Kind)
	}
	m := &waitroomv1.QueueEvent{
		Id:          QueueEventID(c.EventID, c.Seq),
		Type:        typ,
		EventId:     c.EventID,
		Seq:         c.Seq,
		QueueLength: &c.QueueLength,
		At:          optionalTimestamp(c.At),
	}
	if c.Kind == queue.ChangeAdmitted {
		m.CheckoutDeadline = optionalTimestamp(c.CheckoutDeadline)
	}
	m.Sessions = make([]*waitroomv1.QueueEventSession, len(c.Sessions))
	for i, s := range c.Sessions {
		m.Sessions[i] = &waitroomv1.QueueEventSession{
			SessionId: s.ID,
			UserId:    s.UserID,
			Ticket:    s.Ticket,
			Status:    SessionStatus(s.Status),
		}
		if c.Kind == queue.ChangeExpired {
			m.Sessions[i].ExpiryReason = expiryReason(s.Reason)
		}
	}
	return m, nil
}

// expiryReason is the wire form of why a session expired.
func expiryReason(r queue.ExpiryReason) waitroomv1.ExpiryReason {
	switch r {
	case queue.ExpiredQueueTTL:
		return waitroomv1.ExpiryReason_EXPIRY_REASON_QUEUE_TTL
	case queue.ExpiredCheckoutWindow:
		return waitroomv1.ExpiryReason_EXPIRY_REASON_CHECKOUT_WINDOW
	case queue.ExpiredAbsent:
		return waitroomv1.ExpiryReason_EXPIRY_REASON_ABSENT
	case queue.ExpiredEventDeleted:
		return waitroomv1.ExpiryReason_EXPIRY_REASON_EVENT_DELETED
	}
	return waitroomv1.ExpiryReason_EXPIRY_REASON_UNSPECIFIED
}
