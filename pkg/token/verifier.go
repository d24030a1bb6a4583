package token

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultMinRefresh is VerifierConfig.MinRefresh's default.
const DefaultMinRefresh = 15 * time.Second

// verifyLeeway is the clock skew allowed between a token's issuer and its
// verifier.
const verifyLeeway = 30 * time.Second

// VerifierConfig tunes NewVerifier. Zero fields take the defaults, so the
// zero value suits a waiting room run with the default issuer and audience.
type VerifierConfig struct {
	// Issuer and Audience are required in iss and aud; they default to
	// DefaultIssuer and DefaultAudience.
	Issuer   string
	Audience string
	// HTTPClient fetches the JWKS; the default has a 10 s timeout.
	HTTPClient *http.Client
	// Now tells the time for expiry checks and key caching; time.Now if nil.
	Now func() time.Time
	// MinRefresh is the least time between two JWKS fetches, however many
	// tokens with unknown kids arrive, and the shortest time keys are cached.
	// DefaultMinRefresh if zero.
	MinRefresh time.Duration
}

func (c VerifierConfig) withDefaults() VerifierConfig {
	c.Issuer = cmp.Or(c.Issuer, DefaultIssuer)
	c.Audience = cmp.Or(c.Audience, DefaultAudience)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = DefaultMinRefresh
	}
	return c
}

// Verifier checks checkout tokens against the waiting room's JWKS. It fetches
// the keys on first use and caches them for the max-age the server sends. A
// token naming an unknown kid triggers a refetch, so a rotated-in key works at
// once, but at most one fetch per MinRefresh, so junk kids cannot flood the
// server. It is safe for concurrent use.
type Verifier struct {
	keys   *jwksCache
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for the JWKS at jwksURL, typically the
// waiting room's base URL + JWKSPath. It fetches nothing until the first Verify.
func NewVerifier(jwksURL string, cfg VerifierConfig) (*Verifier, error) {
	if err := checkJWKSURL(jwksURL); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	cfg = cfg.withDefaults()
	// Pinned here and again to each key's own alg in pickKey: a token never
	// chooses how it is checked (no "none", no HMAC keyed with a public key).
	algs := []string{AlgEdDSA, AlgES256}
	v := &Verifier{keys: &jwksCache{
		url:        jwksURL,
		client:     cfg.HTTPClient,
		now:        cfg.Now,
		minRefresh: cfg.MinRefresh,
		algs:       algs,
		logger:     slog.New(slog.DiscardHandler),
	}}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(verifyLeeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Verify checks a checkout token's signature, algorithm, issuer, audience and
// times, and returns its claims. Errors wrap jwt's (errors.Is(err,
// jwt.ErrTokenExpired) tells an expired token) or ErrJWKSUnavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	// Cheap checks first: junk input costs a length check and a byte scan.
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("token: %w: longer than %d bytes", jwt.ErrTokenMalformed, MaxTokenLen)
	}
	if strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("token: %w: want three dot-separated parts", jwt.ErrTokenMalformed)
	}
	c := &Claims{}
	_, err := v.parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		return pickKey(t, func(kid string) (publicKey, error) { return v.keys.key(ctx, kid) })
	})
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return c, nil
}
