package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/token"
)

// newTokens builds the checkout token issuer and the JWKS handler that
// publishes its public key. Without a configured key, the disk store keeps
// the one it generates, so tokens outlive a restart as places do.
func newTokens(cfg Config, store queue.Store, log *slog.Logger) (checkoutTokens, http.Handler, error) {
	pem := cfg.SigningKeyPEM
	if len(pem) == 0 {
		var err error
		if pem, err = generatedKey(store, log); err != nil {
			return checkoutTokens{}, nil, err
		}
	}
	key, err := token.ParsePrivateKeyPEM(pem)
	if err != nil {
		return checkoutTokens{}, nil, err
	}
	iss, err := token.NewIssuer(key, cfg.Tokens)
	if err != nil {
		return checkoutTokens{}, nil, err
	}
	return checkoutTokens{iss}, iss.JWKSHandler(), nil
}

// secretKeeper is a store that keeps secrets with its data: the disk store.
type secretKeeper interface {
	Secret(name string, generate func() ([]byte, error)) ([]byte, bool, error)
}

// generatedKey makes a signing key, kept in the store when it can keep one.
func generatedKey(store queue.Store, log *slog.Logger) ([]byte, error) {
	generate := func() ([]byte, error) {
		key, err := token.GenerateKey()
		if err != nil {
			return nil, err
		}
		return token.EncodePrivateKeyPEM(key)
	}
	keeper, ok := store.(secretKeeper)
	if !ok {
		log.Warn("No WAITROOM_SIGNING_KEY(_FILE) set: generated a signing key for this process only. " +
			"Tokens will not verify after a restart or across replicas; run `waitroom keygen` and set one.")
		return generate()
	}
	pem, created, err := keeper.Secret("signing-key", generate)
	if err != nil {
		return nil, fmt.Errorf("the signing key kept in the data directory: %w", err)
	}
	if created {
		log.Info("No WAITROOM_SIGNING_KEY(_FILE) set: generated a signing key and kept it in the data directory; " +
			"tokens verify after a restart and from a backup")
	} else {
		log.Info("No WAITROOM_SIGNING_KEY(_FILE) set: signing with the key kept in the data directory")
	}
	return pem, nil
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
