package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/token"
)

// JoinAuthConfig says who may join a queue as whom. The zero value is open
// mode: any caller names any user id.
type JoinAuthConfig struct {
	// Token makes every JoinQueue prove its user (WAITROOM_JOIN_AUTH=token):
	// with one of ServiceTokens, or with a join token signed by a key of
	// JoinTokens.
	Token bool
	// ServiceTokens are trusted backends' bearer secrets, which may name any
	// user id (WAITROOM_SERVICE_TOKENS_FILE).
	ServiceTokens []string
	// JoinTokens says how join tokens are verified: their keys
	// (WAITROOM_JOIN_KEYS_FILE or WAITROOM_JOIN_JWKS_URL), issuer, audience
	// and longest life. Without keys, only service tokens join.
	JoinTokens token.JoinVerifierConfig
}

// hasJoinKeys says whether join tokens can be verified at all.
func (c JoinAuthConfig) hasJoinKeys() bool {
	return len(c.JoinTokens.Keys) > 0 || c.JoinTokens.JWKSURL != ""
}

// newJoinAuth builds the API's join check from cfg, and says at start which
// mode the replica runs in.
func newJoinAuth(cfg JoinAuthConfig, log *slog.Logger) (api.JoinAuth, error) {
	if !cfg.Token {
		if cfg.hasJoinKeys() || len(cfg.ServiceTokens) > 0 {
			return api.JoinAuth{}, errors.New("join keys or service tokens are set but WAITROOM_JOIN_AUTH is not token: set WAITROOM_JOIN_AUTH=token to use them")
		}
		log.Warn("WAITROOM_JOIN_AUTH=open: any caller can join as any user id and so take over that user's place. " +
			"Use it only where JoinQueue is called by a trusted backend, never where user ids can be guessed; " +
			"set WAITROOM_JOIN_AUTH=token otherwise.")
		return api.JoinAuth{}, nil
	}
	if !cfg.hasJoinKeys() && len(cfg.ServiceTokens) == 0 {
		return api.JoinAuth{}, errors.New("WAITROOM_JOIN_AUTH=token needs join-token keys (WAITROOM_JOIN_KEYS_FILE or WAITROOM_JOIN_JWKS_URL) or WAITROOM_SERVICE_TOKENS_FILE")
	}
	auth := api.JoinAuth{Required: true, ServiceTokens: cfg.ServiceTokens}
	if cfg.hasJoinKeys() {
		vcfg := cfg.JoinTokens
		if vcfg.Logger == nil {
			vcfg.Logger = log.With("component", "join-tokens")
		}
		v, err := token.NewJoinVerifier(vcfg)
		if err != nil {
			return api.JoinAuth{}, fmt.Errorf("join tokens (WAITROOM_JOIN_*): %w", err)
		}
		auth.Verifier = joinTokens{v}
	}
	log.Info("Joins need a service token or a join token", "service_tokens", len(cfg.ServiceTokens),
		"join_issuer", cfg.JoinTokens.Issuer, "join_jwks_url", cfg.JoinTokens.JWKSURL, "join_keys", len(cfg.JoinTokens.Keys))
	return auth, nil
}

// joinTokens gives the API the token package's verifier, which knows nothing
// of the API.
type joinTokens struct{ *token.JoinVerifier }

var _ api.JoinVerifier = joinTokens{}

// errJoinKeysUnavailable answers a join whose token could not be checked,
// without saying more than that.
var errJoinKeysUnavailable = errors.New("invalid join token: its key cannot be checked now")

func (j joinTokens) VerifyJoin(ctx context.Context, raw string) (api.JoinIdentity, error) {
	c, err := j.Verify(ctx, raw)
	var invalid *token.JoinTokenError
	switch {
	case errors.As(err, &invalid):
		return api.JoinIdentity{}, invalid
	case err != nil:
		return api.JoinIdentity{}, errJoinKeysUnavailable
	}
	return api.JoinIdentity{UserID: c.Subject, EventID: c.EventID, Lane: c.Lane}, nil
}
