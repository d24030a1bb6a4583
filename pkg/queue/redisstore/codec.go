package redisstore

import (
	"encoding/json"
	"fmt"
	"strings"
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
	// HeldUntil is set while the session is held (presence.go).
	HeldUntil int64 `json:"held_until_ms,omitempty"`
	// Lane is the session's priority lane (lanes.go).
	Lane string `json:"lane,omitempty"`
}

func decodeSession(raw string) (queue.Session, error) {
	d, ok := scanSessionDoc(raw)
	if !ok {
		d = sessionDoc{}
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return queue.Session{}, fmt.Errorf("redisstore: decode session: %w", err)
		}
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
		HeldUntil:        heldUntil(st, d.HeldUntil),
		Lane:             d.Lane,
	}, nil
}

// scanSessionDoc reads a session the way the scripts write it — one flat
// object of known keys, plain strings and whole numbers — and reports false
// for anything else, which encoding/json then reads. Whatever it accepts it
// reads exactly as encoding/json would (FuzzScanSessionDoc checks).
//
// Every join, admission and stream open decodes sessions, so this is on the
// server's hottest paths: it reads without reflection and without recursion,
// which would grow the stack of every request goroutine that decodes one.
func scanSessionDoc(raw string) (sessionDoc, bool) {
	var d sessionDoc
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return d, false
	}
	body := raw[1 : len(raw)-1]
	for body != "" {
		key, rest, ok := scanString(body)
		if !ok || rest == "" || rest[0] != ':' {
			return d, false
		}
		rest = rest[1:]
		var str string
		var num int64
		isStr := rest != "" && rest[0] == '"'
		neg := rest != "" && rest[0] == '-'
		if isStr {
			str, rest, ok = scanString(rest)
		} else {
			num, rest, ok = scanInt(rest)
		}
		if !ok {
			return d, false
		}
		switch {
		case isStr && key == "id":
			d.ID = str
		case isStr && key == "user_id":
			d.UserID = str
		case isStr && key == "event_id":
			d.EventID = str
		case isStr && key == "status":
			d.Status = str
		case isStr && key == "lane":
			d.Lane = str
		case !isStr && key == "ticket" && !neg:
			d.Ticket = uint64(num)
		case !isStr && key == "joined_at_ms":
			d.JoinedAt = num
		case !isStr && key == "expires_at_ms":
			d.ExpiresAt = num
		case !isStr && key == "admitted_at_ms":
			d.AdmittedAt = num
		case !isStr && key == "checkout_deadline_ms":
			d.CheckoutDeadline = num
		case !isStr && key == "ended_at_ms":
			d.EndedAt = num
		case !isStr && key == "held_until_ms":
			d.HeldUntil = num
		case !knownKey(key):
			// Kept by the scripts for themselves (end_request): ignored, as
			// encoding/json ignores it.
		default:
			return d, false
		}
		if rest == "" {
			break
		}
		if rest[0] != ',' || len(rest) == 1 {
			return d, false
		}
		body = rest[1:]
	}
	// Copy the ids out of raw in one allocation: a session a stream keeps
	// for hours must not keep its whole stored document alive with it.
	ids := d.ID + d.UserID + d.EventID + d.Lane
	d.ID, ids = ids[:len(d.ID)], ids[len(d.ID):]
	d.UserID, ids = ids[:len(d.UserID)], ids[len(d.UserID):]
	d.EventID, d.Lane = ids[:len(d.EventID)], ids[len(d.EventID):]
	return d, true
}

// knownKey reports whether encoding/json would read key into a sessionDoc
// field: it matches names without regard to case.
func knownKey(key string) bool {
	for _, k := range sessionKeys {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

var sessionKeys = []string{"id", "user_id", "event_id", "ticket", "status", "joined_at_ms",
	"expires_at_ms", "admitted_at_ms", "checkout_deadline_ms", "ended_at_ms", "lane"}

// scanString reads a JSON string without escapes or bytes outside printable
// ASCII at the start of s.
func scanString(s string) (v, rest string, ok bool) {
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return s[1:i], s[i+1:], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", s, false
		}
	}
	return "", s, false
}

// scanInt reads a JSON integer of at most 18 digits (so it cannot overflow)
// at the start of s.
func scanInt(s string) (v int64, rest string, ok bool) {
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		neg, i = true, 1
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		v = v*10 + int64(s[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || (digits > 1 && s[start] == '0') {
		return 0, s, false
	}
	if neg {
		v = -v
	}
	return v, s[i:], true
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
