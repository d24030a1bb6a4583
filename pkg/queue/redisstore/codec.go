package redisstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// sessionDoc is a session as stored (and shown by redis-cli GET). The scripts
// write it with cjson; times are Unix milliseconds.
type sessionDoc struct {
	ID               string `json:"id"`
	UserID           string `json:"user_id"`
	EventID          string `json:"event_id"`
	Ticket           uint64 `json:"ticket"`
	Status           string `json:"status"`
	JoinedAt         int64  `json:"joined_at_ms"`
	ExpiresAt        int64  `json:"expires_at_ms"`
	AdmittedAt       int64  `json:"admitted_at_ms,omitempty"`
	CheckoutDeadline int64  `json:"checkout_deadline_ms,omitempty"`
	EndedAt          int64  `json:"ended_at_ms,omitempty"`
}

func decodeSession(raw string) (queue.Session, error) {
	var d sessionDoc
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return queue.Session{}, fmt.Errorf("redisstore: decode session: %w", err)
	}
	st, ok := parseStatus(d.Status)
	if !ok {
		return queue.Session{}, fmt.Errorf("redisstore: session %s has unknown status %q", d.ID, d.Status)
	}
	return queue.Session{
		ID:               d.ID,
		UserID:           d.UserID,
		EventID:          d.EventID,
		Ticket:           d.Ticket,
		Status:           st,
		JoinedAt:         fromMS(d.JoinedAt),
		ExpiresAt:        fromMS(d.ExpiresAt),
		AdmittedAt:       fromMS(d.AdmittedAt),
		CheckoutDeadline: fromMS(d.CheckoutDeadline),
		EndedAt:          fromMS(d.EndedAt),
	}, nil
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func parseStatus(s string) (queue.Status, bool) {
	for st := queue.StatusQueued; st <= queue.StatusLeft; st++ {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}

func parseState(s string) (queue.EventState, bool) {
	for st := queue.EventActive; st <= queue.EventClosed; st++ {
		if st.String() == s {
			return st, true
		}
	}
	return 0, false
}
