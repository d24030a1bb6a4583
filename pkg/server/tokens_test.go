package server

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The service's token issuer refuses what is not a session, and reads back
// only tokens it signed, answering anything else as an invalid checkout_token.
func TestCheckoutTokens(t *testing.T) {
	tokens, _, err := newTokens(Config{}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := queue.Session{
		ID: queue.NewSessionID("concert-1"), UserID: "user-42", EventID: "concert-1",
		AdmittedAt: at, CheckoutDeadline: at.Add(10 * time.Minute),
	}
	tok, err := tokens.Issue(s)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := tokens.SessionID(tok); err != nil || id != s.ID {
		t.Errorf("SessionID = %q, %v; want %q", id, err, s.ID)
	}

	malformed := s
	malformed.ID = "x"
	if tok, err := tokens.Issue(malformed); err == nil {
		t.Errorf("Issue with a malformed session id = %q, want an error", tok)
	}

	for _, junk := range []string{"", "not-a-token", tok[:len(tok)-4] + "AAAA"} {
		id, err := tokens.SessionID(junk)
		var invalid *queue.InvalidArgumentError
		if !errors.As(err, &invalid) || invalid.Field != "checkout_token" {
			t.Errorf("SessionID(%q) = %q, %v; want an InvalidArgumentError for checkout_token", junk, id, err)
		}
	}
}
