package token

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults for IssuerConfig and VerifierConfig.
const (
	DefaultIssuer     = "waitroom"
	DefaultAudience   = "checkout"
	DefaultJWKSMaxAge = 5 * time.Minute
)

// MaxTokenLen caps the tokens this package parses. A checkout token is about
// 500 bytes; the cap keeps junk input from costing more than a length check.
const MaxTokenLen = 4 << 10

// IssuerConfig tunes NewIssuer. Zero fields take the defaults.
type IssuerConfig struct {
	// Issuer and Audience go into iss and aud; they default to DefaultIssuer
	// and DefaultAudience.
	Issuer   string
	Audience string
	// ExtraPublicKeys are published in the JWKS and accepted by SessionID but
	// never sign. After a key rotation, keep the old public key here until the
	// tokens it signed are past their checkout deadline.
	ExtraPublicKeys []crypto.PublicKey
	// JWKSMaxAge is the Cache-Control max-age of the JWKS; DefaultJWKSMaxAge if zero.
	JWKSMaxAge time.Duration
}

func (c IssuerConfig) withDefaults() IssuerConfig {
	c.Issuer = cmp.Or(c.Issuer, DefaultIssuer)
	c.Audience = cmp.Or(c.Audience, DefaultAudience)
	if c.JWKSMaxAge <= 0 {
		c.JWKSMaxAge = DefaultJWKSMaxAge
	}
	return c
}

// Admission is what a checkout token states: which session of which user
// was admitted to which event, when, and until when it may check out.
type Admission struct {
	SessionID        string
	UserID           string
	EventID          string
	AdmittedAt       time.Time
	CheckoutDeadline time.Time
}

// InvalidTokenError is Issuer.SessionID's answer to a token it does not
// accept; Reason says why in a few words.
type InvalidTokenError struct {
	Reason string
}

func (e *InvalidTokenError) Error() string { return "invalid checkout token: " + e.Reason }

// Issuer signs checkout tokens and reads back the ones it (or a key it still
// trusts) signed. It is safe for concurrent use.
type Issuer struct {
	signer     crypto.Signer
	method     jwt.SigningMethod
	kid        string
	issuer     string
	audience   string
	keys       map[string]publicKey // every key SessionID accepts, by kid
	parser     *jwt.Parser
	jwks       []byte
	jwksMaxAge time.Duration
	// header is the encoded JOSE header every token shares; issJSON and
	// audJSON are the issuer and audience claims, encoded once (see Issue).
	header           string
	issJSON, audJSON []byte
	signers          *signers
}

// NewIssuer checks the keys and returns an Issuer that signs with key:
// Ed25519 (alg EdDSA, preferred) or an *ecdsa.PrivateKey on P-256 (alg
// ES256). Close it when done: with an ed25519.PrivateKey or
// *ecdsa.PrivateKey it keeps up to one signing goroutine per CPU once tokens
// are issued.
func NewIssuer(key crypto.Signer, cfg IssuerConfig) (*Issuer, error) {
	if key == nil {
		return nil, errors.New("token: a signing key is required")
	}
	cfg = cfg.withDefaults()
	signing, err := encodeJWK(key.Public())
	if err != nil {
		return nil, fmt.Errorf("token: signing key: %w", err)
	}
	i := &Issuer{
		signer:     key,
		kid:        signing.Kid,
		issuer:     cfg.Issuer,
		audience:   cfg.Audience,
		keys:       map[string]publicKey{},
		jwksMaxAge: cfg.JWKSMaxAge,
	}
	switch signing.Alg {
	case AlgEdDSA:
		i.method = jwt.SigningMethodEdDSA
	case AlgES256:
		// jwt's ES256 signs only with *ecdsa.PrivateKey, not any crypto.Signer.
		if _, ok := key.(*ecdsa.PrivateKey); !ok {
			return nil, fmt.Errorf("token: ES256 signing needs an *ecdsa.PrivateKey, got %T", key)
		}
		i.method = jwt.SigningMethodES256
	}

	set := jwkSet{Keys: []jwk{signing}}
	i.keys[signing.Kid] = publicKey{kid: signing.Kid, alg: signing.Alg, key: key.Public()}
	for n, pub := range cfg.ExtraPublicKeys {
		j, err := encodeJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("token: ExtraPublicKeys[%d]: %w", n, err)
		}
		if _, dup := i.keys[j.Kid]; dup {
			continue
		}
		set.Keys = append(set.Keys, j)
		i.keys[j.Kid] = publicKey{kid: j.Kid, alg: j.Alg, key: pub}
	}
	if i.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("token: encode JWKS: %w", err)
	}

	var algs []string
	for _, k := range i.keys {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	// Claims are checked by hand in SessionID: it must accept expired tokens.
	i.parser = jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())

	// What every token shares, encoded as golang-jwt encodes it.
	h := jwt.New(i.method).Header
	h["kid"] = i.kid
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("token: encode header: %w", err)
	}
	i.header = base64.RawURLEncoding.EncodeToString(hj)
	if i.issuer != "" {
		i.issJSON, _ = json.Marshal(i.issuer)
	}
	i.audJSON, _ = json.Marshal(i.audience)
	// Keys in this process sign on a pool of one goroutine per CPU. Any
	// other crypto.Signer (a KMS, an HSM) may wait on the network: bounding
	// it by CPUs would throttle admissions to its latency, so it signs on
	// the caller.
	workers := 0
	switch key.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey:
		workers = cpuWorkers()
	}
	i.signers = newSigners(func(s string) ([]byte, error) { return i.method.Sign(s, i.signer) }, workers)
	return i, nil
}

// Close stops the goroutines that sign tokens. Issue still works after it,
// signing on the caller's goroutine.
func (i *Issuer) Close() { i.signers.close() }

// KeyID returns the kid of the signing key: its RFC 7638 thumbprint.
func (i *Issuer) KeyID() string { return i.kid }

// Issue signs the checkout token of an admission. It is valid from the
// admission until the checkout deadline, and its jti is the session id, which
// is unique because a session is admitted at most once. With Ed25519 the same
// admission always yields the same token.
func (i *Issuer) Issue(a Admission) (string, error) {
	if a.SessionID == "" || a.UserID == "" || a.EventID == "" {
		return "", errors.New("token: admission has no session, user or event id")
	}
	if a.AdmittedAt.IsZero() || !a.CheckoutDeadline.After(a.AdmittedAt) {
		return "", fmt.Errorf("token: session %s is not admitted (admitted %v, deadline %v)",
			a.SessionID, a.AdmittedAt, a.CheckoutDeadline)
	}
	signing := i.signingString(a)
	sig, err := i.signers.do(signing)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// signingString is the token's header and claims as golang-jwt's
// Token.SigningString writes them for Claims — the same bytes (a test
// compares the two) — written by hand to keep encoding/json's reflection off
// the admission path, where every admitted stream issues a token. The header
// and the configured issuer and audience are encoded once by encoding/json;
// an id is copied as it is unless JSON would escape one of its characters,
// and then it goes through encoding/json too.
func (i *Issuer) signingString(a Admission) string {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	if i.issJSON != nil {
		b = append(b, `"iss":`...)
		b = append(b, i.issJSON...)
		b = append(b, ',')
	}
	b = append(b, `"sub":`...)
	b = appendJSONString(b, a.UserID)
	b = append(b, `,"aud":[`...)
	b = append(b, i.audJSON...)
	b = append(b, `],"exp":`...)
	b = strconv.AppendInt(b, a.CheckoutDeadline.Unix(), 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, a.AdmittedAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, a.AdmittedAt.Unix(), 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, a.SessionID)
	b = append(b, `,"sid":`...)
	b = appendJSONString(b, a.SessionID)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, a.EventID)
	b = append(b, '}')

	out := make([]byte, 0, len(i.header)+1+base64.RawURLEncoding.EncodedLen(len(b)))
	out = append(out, i.header...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, b)
	return string(out)
}

// appendJSONString appends v as encoding/json writes it.
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// SessionID verifies a token signed by one of this issuer's keys, for this
// issuer and audience, and returns its session id. An expired token still
// names its session, so the caller can answer "session expired". Any other
// failure is an *InvalidTokenError.
func (i *Issuer) SessionID(token string) (string, error) {
	invalid := func(reason string) error { return &InvalidTokenError{Reason: reason} }
	if token == "" {
		return "", invalid("must not be empty")
	}
	if len(token) > MaxTokenLen {
		return "", invalid("too long")
	}
	if strings.Count(token, ".") != 2 {
		return "", invalid("not a token")
	}
	var c Claims
	if _, err := i.parser.ParseWithClaims(token, &c, i.keyFunc); err != nil {
		return "", invalid("not a valid checkout token")
	}
	if c.Issuer != i.issuer || !slices.Contains(c.Audience, i.audience) || c.ExpiresAt == nil ||
		c.Validate() != nil || c.ID != c.SessionID {
		return "", invalid("not a valid checkout token")
	}
	return c.SessionID, nil
}

// keyFunc finds the key a token names and pins the token's alg to it.
func (i *Issuer) keyFunc(t *jwt.Token) (any, error) {
	return pickKey(t, func(kid string) (publicKey, error) {
		k, ok := i.keys[kid]
		if !ok {
			return publicKey{}, fmt.Errorf("%w %q", errUnknownKid, kid)
		}
		return k, nil
	})
}
