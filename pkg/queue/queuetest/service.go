package queuetest

import (
	"strings"
	"testing"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// Tokens is a checkout token issuer for tests that need tokens to exist, not
// to be signed: a session's token is "token:" followed by its id.
type Tokens struct{}

var _ queue.TokenIssuer = Tokens{}

// Issue implements queue.TokenIssuer.
func (Tokens) Issue(s queue.Session) (string, error) { return "token:" + s.ID, nil }

// SessionID implements queue.TokenIssuer.
func (Tokens) SessionID(tok string) (string, error) {
	id, ok := strings.CutPrefix(tok, "token:")
	if !ok || queue.ValidateSessionID(id) != nil {
		return "", &queue.InvalidArgumentError{Field: "checkout_token", Reason: "not a valid checkout token"}
	}
	return id, nil
}

// NewService returns a service on store with test tokens and its own
// fan-out hub, closed when the test ends.
func NewService(tb testing.TB, store queue.Store, cfg queue.Config, fcfg fanout.Config) (*queue.Service, *fanout.Hub) {
	tb.Helper()
	hub := fanout.New(store, fcfg)
	svc := queue.NewService(store, Tokens{}, hub, cfg)
	tb.Cleanup(svc.Close)
	return svc, hub
}
