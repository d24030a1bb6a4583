package server

import (
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/token"
)

// newTokens builds the checkout token issuer and the JWKS handler that
// publishes its public key.
func newTokens(cfg Config, log *slog.Logger) (checkoutTokens, http.Handler, error) {
	var key crypto.Signer
	var err error
	if len(cfg.SigningKeyPEM) == 0 {
		if key, err = token.GenerateKey(); err != nil {
			return checkoutTokens{}, nil, err
		}
		log.Warn("No WAITROOM_SIGNING_KEY(_FILE) set: generated a signing key for this process only. " +
			"Tokens will not verify after a restart or across replicas; run `waitroom keygen` and set one.")
	} else if key, err = token.ParsePrivateKeyPEM(cfg.SigningKeyPEM); err != nil {
		return checkoutTokens{}, nil, err
	}
	iss, err := token.NewIssuer(key, cfg.Tokens)
	if err != nil {
		return checkoutTokens{}, nil, err
	}
	return checkoutTokens{iss}, iss.JWKSHandler(), nil
}

// checkoutTokens gives the service the token package's issuer, which knows
// nothing of sessions or of the service's errors.
type checkoutTokens struct{ *token.Issuer }

var _ queue.TokenIssuer = checkoutTokens{}

func (t checkoutTokens) Issue(s queue.Session) (string, error) {
	if err := queue.ValidateSessionID(s.ID); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return t.Issuer.Issue(token.Admission{
		SessionID: s.ID, UserID: s.UserID, EventID: s.EventID,
		AdmittedAt: s.AdmittedAt, CheckoutDeadline: s.CheckoutDeadline,
	})
}

func (t checkoutTokens) SessionID(tok string) (string, error) {
	id, err := t.Issuer.SessionID(tok)
	var invalid *token.InvalidTokenError
	switch {
	case errors.As(err, &invalid):
		return "", &queue.InvalidArgumentError{Field: "checkout_token", Reason: invalid.Reason}
	case err == nil && queue.ValidateSessionID(id) != nil:
		return "", &queue.InvalidArgumentError{Field: "checkout_token", Reason: "not a valid checkout token"}
	}
	return id, err
}
