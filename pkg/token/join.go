package token

import (
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults for JoinVerifierConfig.
const (
	DefaultJoinAudience   = "waitroom"
	DefaultJoinMaxAge     = 10 * time.Minute
	DefaultJoinMinRefresh = time.Minute
)

// JoinVerifierConfig configures NewJoinVerifier. Zero fields take defaults;
// Issuer and one of Keys and JWKSURL are required.
type JoinVerifierConfig struct {
	// Keys are the ticketing site's public keys: Ed25519 (EdDSA), ECDSA P-256
	// (ES256) or RSA of at least 2048 bits (RS256). A token's kid, if it has
	// one, must be its key's RFC 7638 thumbprint; a token without kid is tried
	// against every key of its alg.
	Keys []crypto.PublicKey
	// JWKSURL is where the ticketing site publishes its keys instead. They are
	// fetched on first use and cached for the max-age the site sends; a token
	// of an unknown kid triggers a refetch at most once per MinRefresh; while
	// the site is down the keys fetched before keep working. Tokens must name
	// their key by the kid the set gives it.
	JWKSURL string
	// Issuer is required: a token's iss must equal it.
	Issuer string
	// Audience must be among a token's aud; DefaultJoinAudience if empty.
	Audience string
	// MaxAge is the longest lifetime a token may have: exp and iat are
	// required and exp may be at most MaxAge after iat. DefaultJoinMaxAge if
	// zero.
	MaxAge time.Duration
	// MinRefresh is the least time between two JWKS fetches, however many
	// tokens of unknown kids arrive; DefaultJoinMinRefresh if zero.
	MinRefresh time.Duration
	// HTTPClient fetches the JWKS; the default has a 10 s timeout.
	HTTPClient *http.Client
	// Logger says when the JWKS cannot be fetched; nil discards.
	Logger *slog.Logger
	// Now tells the time for expiry checks and key caching; time.Now if nil.
	Now func() time.Time
}

func (c JoinVerifierConfig) withDefaults() JoinVerifierConfig {
	c.Audience = cmp.Or(c.Audience, DefaultJoinAudience)
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultJoinMaxAge
	}
	if c.MinRefresh <= 0 {
		c.MinRefresh = DefaultJoinMinRefresh
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// JoinClaims are what a verified join token says.
type JoinClaims struct {
	// Subject (sub) is the user id; never empty.
	Subject string
	// EventID (event_id), if set, is the one event the token may join.
	EventID string
	// Lane (lane), if set, is the priority lane the visitor joins.
	Lane string
	// ExpiresAt (exp) is when the token stops being accepted.
	ExpiresAt time.Time
}

// JoinTokenError is JoinVerifier.Verify's answer to a token it refuses.
// Reason says why in a few fixed words ("expired" once exp has passed) and
// never quotes the token, so the error can be shown to the visitor.
type JoinTokenError struct {
	Reason string
}

func (e *JoinTokenError) Error() string { return "invalid join token: " + e.Reason }

// JoinVerifier checks join tokens: JWTs a ticketing site signs for a
// logged-in visitor, proving who may join the queue. It is safe for
// concurrent use.
type JoinVerifier struct {
	issuer, audience string
	algs             []string
	parser           *jwt.Parser
	maxAge           time.Duration
	pinned           map[string]publicKey // by thumbprint; nil with a JWKS
	jwks             *jwksCache
}

// NewJoinVerifier checks the configuration and returns a JoinVerifier. With
// a JWKSURL it fetches nothing until the first Verify.
func NewJoinVerifier(cfg JoinVerifierConfig) (*JoinVerifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("token: JoinVerifierConfig.Issuer is required")
	}
	switch {
	case len(cfg.Keys) == 0 && cfg.JWKSURL == "":
		return nil, errors.New("token: JoinVerifierConfig needs Keys or a JWKSURL")
	case len(cfg.Keys) > 0 && cfg.JWKSURL != "":
		return nil, errors.New("token: JoinVerifierConfig has both Keys and a JWKSURL; set one")
	}
	cfg = cfg.withDefaults()
	v := &JoinVerifier{issuer: cfg.Issuer, audience: cfg.Audience, maxAge: cfg.MaxAge}
	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		v.algs = []string{AlgEdDSA, AlgES256, AlgRS256}
		v.jwks = &jwksCache{
			url:        cfg.JWKSURL,
			client:     cfg.HTTPClient,
			now:        cfg.Now,
			minRefresh: cfg.MinRefresh,
			algs:       v.algs,
			logger:     cfg.Logger,
		}
	} else {
		v.pinned = make(map[string]publicKey, len(cfg.Keys))
		for n, pub := range cfg.Keys {
			alg, err := verifyAlgorithmOf(pub)
			if err != nil {
				return nil, fmt.Errorf("token: JoinVerifierConfig.Keys[%d]: %w", n, err)
			}
			j, err := publicJWK(pub, alg)
			if err != nil {
				return nil, fmt.Errorf("token: JoinVerifierConfig.Keys[%d]: %w", n, err)
			}
			v.pinned[j.Kid] = publicKey{kid: j.Kid, alg: alg, key: pub}
			if !slices.Contains(v.algs, alg) {
				v.algs = append(v.algs, alg)
			}
		}
	}
	v.parser = jwt.NewParser(
		// Only the algorithms of the keys we hold, and each key verifies only
		// with its own (pinAlg): a token never chooses how it is checked.
		jwt.WithValidMethods(v.algs),
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

// Verify checks a join token's signature, algorithm, issuer, audience,
// lifetime and times, allowing 30 s of clock skew, and returns its claims. A
// token it refuses gives a *JoinTokenError. Any other error means the token
// could not be checked, not that it is bad: the JWKS could not be fetched
// (errors.Is(err, ErrJWKSUnavailable)) or ctx ended while waiting for it.
func (v *JoinVerifier) Verify(ctx context.Context, raw string) (JoinClaims, error) {
	// Cheap checks first: junk input costs a length check and a byte scan.
	switch {
	case raw == "":
		return JoinClaims{}, &JoinTokenError{Reason: "empty"}
	case len(raw) > MaxTokenLen:
		return JoinClaims{}, &JoinTokenError{Reason: "too long"}
	case strings.Count(raw, ".") != 2:
		return JoinClaims{}, &JoinTokenError{Reason: "malformed"}
	}
	c := &joinClaims{maxAge: v.maxAge}
	t, err := v.parser.ParseWithClaims(raw, c, func(t *jwt.Token) (any, error) { return v.key(ctx, t) })
	if err != nil {
		if errors.Is(err, ErrJWKSUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return JoinClaims{}, fmt.Errorf("token: join token not checked: %w", err)
		}
		return JoinClaims{}, &JoinTokenError{Reason: v.reason(t, c, err)}
	}
	return JoinClaims{Subject: c.Subject, EventID: c.EventID, Lane: c.Lane, ExpiresAt: c.ExpiresAt.Time}, nil
}

// key finds the key a token is to be verified with.
func (v *JoinVerifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	if v.jwks != nil {
		return pickKey(t, func(kid string) (publicKey, error) { return v.jwks.key(ctx, kid) })
	}
	if err := checkHeader(t.Header); err != nil {
		return nil, err
	}
	kid, err := kidOf(t)
	if err != nil {
		return nil, err
	}
	if kid != "" {
		k, ok := v.pinned[kid]
		if !ok {
			return nil, fmt.Errorf("%w %q", errUnknownKid, kid)
		}
		return pinAlg(t, k)
	}
	var set jwt.VerificationKeySet
	for _, k := range v.pinned {
		if k.alg == t.Method.Alg() {
			set.Keys = append(set.Keys, k.key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, errNoKeyForAlg
	}
	return set, nil
}

// reason words a refusal for the visitor. The first matching cause wins, so
// a token that is expired and also for another issuer is "wrong issuer":
// "expired" tells a visitor that a fresh token would do.
func (v *JoinVerifier) reason(t *jwt.Token, c *joinClaims, err error) string {
	switch {
	case errors.Is(err, errHeaderKey):
		return "key in header not accepted"
	case errors.Is(err, errCritical):
		return "critical header not understood"
	case errors.Is(err, errNoKid):
		return "no kid"
	case errors.Is(err, errUnknownKid), errors.Is(err, errKidNotString):
		return "unknown key"
	case errors.Is(err, errAlgMismatch), errors.Is(err, errNoKeyForAlg):
		return "algorithm does not match the key"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case t == nil || t.Method == nil || !slices.Contains(v.algs, t.Method.Alg()):
		return "algorithm not allowed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature"
	// From here on the signature is good and the claims are decoded.
	case c.Issuer != v.issuer:
		return "wrong issuer"
	case !slices.Contains(c.Audience, v.audience):
		return "wrong audience"
	case c.ExpiresAt == nil:
		return "missing exp"
	case c.IssuedAt == nil:
		return "missing iat"
	case c.Subject == "":
		return "missing sub"
	case errors.Is(err, errTooLong):
		return "lifetime too long"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	}
	return "refused"
}

// errTooLong is a token valid for longer than MaxAge.
var errTooLong = errors.New("exp is too long after iat")

// joinClaims are a join token's claims as they are decoded, with the checks
// the jwt parser cannot make on its own.
type joinClaims struct {
	jwt.RegisteredClaims
	EventID string `json:"event_id,omitempty"`
	Lane    string `json:"lane,omitempty"`

	maxAge time.Duration
}

// UnmarshalJSON decodes the claims, refusing times written as strings.
func (c *joinClaims) UnmarshalJSON(data []byte) error {
	if err := requireNumericDates(data); err != nil {
		return err
	}
	type plain joinClaims // without this method
	return json.Unmarshal(data, (*plain)(c))
}

// Validate is called by the jwt parser after its own claim checks.
func (c *joinClaims) Validate() error {
	var errs []error
	if c.IssuedAt == nil {
		errs = append(errs, fmt.Errorf("%w: iat", jwt.ErrTokenRequiredClaimMissing))
	}
	if c.Subject == "" {
		errs = append(errs, fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing))
	}
	if c.IssuedAt != nil && c.ExpiresAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > c.maxAge {
		errs = append(errs, fmt.Errorf("%w: more than %v", errTooLong, c.maxAge))
	}
	return errors.Join(errs...)
}
