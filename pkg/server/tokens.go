package server

import (
	"log/slog"
	"net/http"

	"github.com/waitroom/waitroom/pkg/token"
)

// newTokens builds the checkout token issuer and the JWKS handler that
// publishes its public key.
func newTokens(cfg Config, log *slog.Logger) (*token.Issuer, http.Handler, error) {
	var icfg token.IssuerConfig
	icfg.Issuer, icfg.Audience = cfg.TokenIssuer, cfg.TokenAudience
	if len(cfg.SigningKeyPEM) == 0 {
		key, err := token.GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		icfg.Key = key
		log.Warn("No WAITROOM_SIGNING_KEY(_FILE) set: generated a signing key for this process only. " +
			"Tokens will not verify after a restart or across replicas; run `waitroom keygen` and set one.")
	} else {
		key, err := token.ParsePrivateKeyPEM(cfg.SigningKeyPEM)
		if err != nil {
			return nil, nil, err
		}
		icfg.Key = key
	}
	iss, err := token.NewIssuer(icfg)
	if err != nil {
		return nil, nil, err
	}
	return iss, iss.JWKSHandler(), nil
}
