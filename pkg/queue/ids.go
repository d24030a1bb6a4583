package queue

import (
	"crypto/rand"
	"net/url"
	"strconv"
	"strings"
)

// Limits on identifiers. They keep Redis keys, log lines and tokens small and
// free of characters that need escaping anywhere.
const (
	MaxUserIDLen  = 128
	MaxEventIDLen = 64
	// sessionSep separates the event id from the random part of a session id.
	// Event ids cannot contain it, so the event of any session id is known
	// without a lookup: a Redis Cluster store keeps a session in its event's slot.
	sessionSep       = '~'
	sessionRandomLen = 26
	maxSessionIDLen  = MaxEventIDLen + 1 + sessionRandomLen
)

const base32Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewSessionID returns a new unguessable session id for an event:
// "<event_id>~<26 random base32 characters>" (130 random bits).
func NewSessionID(eventID string) string {
	var b [sessionRandomLen]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = base32Alphabet[b[i]&31]
	}
	return eventID + string(sessionSep) + string(b[:])
}

// EventOfSession returns the event id embedded in a session id validated by
// ValidateSessionID.
func EventOfSession(sessionID string) string {
	i := strings.LastIndexByte(sessionID, sessionSep)
	if i < 0 {
		return ""
	}
	return sessionID[:i]
}

// ValidateUserID checks a user id: 1-128 characters from [A-Za-z0-9._:@-].
func ValidateUserID(id string) error {
	return validateID("user_id", id, MaxUserIDLen, ":@")
}

// ValidateEventID checks an event id: 1-64 characters from [A-Za-z0-9._-].
func ValidateEventID(id string) error {
	return validateID("event_id", id, MaxEventIDLen, "")
}

// ValidateSessionID checks the shape of a session id made by NewSessionID.
func ValidateSessionID(id string) error {
	const field = "session_id"
	if id == "" {
		return &InvalidArgumentError{Field: field, Reason: "must not be empty"}
	}
	if len(id) > maxSessionIDLen {
		return &InvalidArgumentError{Field: field, Reason: "too long"}
	}
	i := strings.LastIndexByte(id, sessionSep)
	if i < 0 || len(id)-i-1 != sessionRandomLen {
		return &InvalidArgumentError{Field: field, Reason: "not a session id"}
	}
	if err := ValidateEventID(id[:i]); err != nil {
		return &InvalidArgumentError{Field: field, Reason: "not a session id"}
	}
	for j := i + 1; j < len(id); j++ {
		if strings.IndexByte(base32Alphabet, id[j]) < 0 {
			return &InvalidArgumentError{Field: field, Reason: "not a session id"}
		}
	}
	return nil
}

func validateID(field, id string, max int, extra string) error {
	if id == "" {
		return &InvalidArgumentError{Field: field, Reason: "must not be empty"}
	}
	if len(id) > max {
		return &InvalidArgumentError{Field: field, Reason: "longer than " + strconv.Itoa(max) + " characters"}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || strings.IndexByte(extra, c) >= 0
		if !ok {
			return &InvalidArgumentError{Field: field, Reason: "may only contain letters, digits and ._-" + extra}
		}
	}
	return nil
}

// ValidateCheckoutURL accepts an absolute http(s) URL or an absolute path.
func ValidateCheckoutURL(field, raw string) error {
	if len(raw) > 2048 {
		return &InvalidArgumentError{Field: field, Reason: "longer than 2048 characters"}
	}
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return &InvalidArgumentError{Field: field, Reason: "not a URL"}
	}
	if u.IsAbs() {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &InvalidArgumentError{Field: field, Reason: "must be an http(s) URL or a path starting with /"}
		}
		return nil
	}
	if u.Host != "" || len(u.Path) == 0 || u.Path[0] != '/' {
		return &InvalidArgumentError{Field: field, Reason: "must be an http(s) URL or a path starting with /"}
	}
	return nil
}
