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

	"github.com/waitroom/waitroom/pkg/queue"
)

// Defaults for IssuerConfig and VerifierOptions.
const (
	DefaultIssuer     = "waitroom"
	DefaultAudience   = "checkout"
	DefaultJWKSMaxAge = 5 * time.Minute
)

// MaxTokenLen caps the tokens this package parses. A checkout token is about
// 500 bytes; the cap keeps junk input from costing more than a length check.
const MaxTokenLen = 4 << 10

// IssuerConfig configures NewIssuer.
type IssuerConfig struct {
	// Key signs tokens: Ed25519 (alg EdDSA, preferred) or an *ecdsa.PrivateKey
	// on P-256 (alg ES256).
	Key crypto.Signer
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

var _ queue.TokenIssuer = (*Issuer)(nil)

// NewIssuer checks the keys and returns an Issuer. Close it when done: with
// an ed25519.PrivateKey or *ecdsa.PrivateKey it keeps up to one signing
// goroutine per CPU once tokens are issued.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if cfg.Key == nil {
		return nil, errors.New("token: IssuerConfig.Key is required")
	}
	signing, err := encodeJWK(cfg.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("token: signing key: %w", err)
	}
	i := &Issuer{
		signer:     cfg.Key,
		kid:        signing.Kid,
		issuer:     cmp.Or(cfg.Issuer, DefaultIssuer),
		audience:   cmp.Or(cfg.Audience, DefaultAudience),
		keys:       map[string]publicKey{},
		jwksMaxAge: cfg.JWKSMaxAge,
	}
	if i.jwksMaxAge <= 0 {
		i.jwksMaxAge = DefaultJWKSMaxAge
	}
	switch signing.Alg {
	case AlgEdDSA:
		i.method = jwt.SigningMethodEdDSA
	case AlgES256:
		// jwt's ES256 signs only with *ecdsa.PrivateKey, not any crypto.Signer.
		if _, ok := cfg.Key.(*ecdsa.PrivateKey); !ok {
			return nil, fmt.Errorf("token: ES256 signing needs an *ecdsa.PrivateKey, got %T", cfg.Key)
		}
		i.method = jwt.SigningMethodES256
	}

	set := jwkSet{Keys: []jwk{signing}}
	i.keys[signing.Kid] = publicKey{kid: signing.Kid, alg: signing.Alg, key: cfg.Key.Public()}
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
	switch cfg.Key.(type) {
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

// Issue signs the checkout token of an admitted session. It is valid from the
// admission until the checkout deadline, and its jti is the session id, which
// is unique because a session is admitted at most once. With Ed25519 the same
// session always yields the same token.
func (i *Issuer) Issue(s queue.Session) (string, error) {
	if err := queue.ValidateSessionID(s.ID); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	if s.UserID == "" || s.EventID == "" {
		return "", errors.New("token: session has no user or event id")
	}
	if s.AdmittedAt.IsZero() || !s.CheckoutDeadline.After(s.AdmittedAt) {
		return "", fmt.Errorf("token: session %s is not admitted (admitted %v, deadline %v)",
			s.ID, s.AdmittedAt, s.CheckoutDeadline)
	}
	signing := i.signingString(s)
	sig, err := i.signers.do(signing)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// signingString is the token's header and claims as golang-jwt's
// Token.SigningString writes them for Claims — the same bytes (a test
// compares the two) — without encoding/json's reflection, which was as costly
// as the signature itself: every admitted stream issues one token, and 20,000
// admitted at once made it 12% of the server's CPU. The header and the
// configured issuer and audience are encoded once by encoding/json; ids
// contain no character JSON escapes (queue.ValidateUserID and friends), and
// anything else still goes through encoding/json.
func (i *Issuer) signingString(s queue.Session) string {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	if i.issJSON != nil {
		b = append(b, `"iss":`...)
		b = append(b, i.issJSON...)
		b = append(b, ',')
	}
	b = append(b, `"sub":`...)
	b = appendJSONString(b, s.UserID)
	b = append(b, `,"aud":[`...)
	b = append(b, i.audJSON...)
	b = append(b, `],"exp":`...)
	b = strconv.AppendInt(b, s.CheckoutDeadline.Unix(), 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, s.AdmittedAt.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, s.AdmittedAt.Unix(), 10)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"sid":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, s.EventID)
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
// names its session, so the caller can answer "session expired". Anything
// else gives a *queue.InvalidArgumentError for field checkout_token.
func (i *Issuer) SessionID(token string) (string, error) {
	invalid := func(reason string) error {
		return &queue.InvalidArgumentError{Field: "checkout_token", Reason: reason}
	}
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
		c.Validate() != nil || c.ID != c.SessionID || queue.ValidateSessionID(c.SessionID) != nil {
		return "", invalid("not a valid checkout token")
	}
	return c.SessionID, nil
}

// keyFunc finds the key a token names and pins the token's alg to it.
func (i *Issuer) keyFunc(t *jwt.Token) (any, error) {
	return pickKey(t, func(kid string) (publicKey, error) {
		k, ok := i.keys[kid]
		if !ok {
			return publicKey{}, fmt.Errorf("unknown kid %q", kid)
		}
		return k, nil
	})
}

// pickKey returns the key named by the token's kid header, refusing a token
// whose alg is not the key's own.
func pickKey(t *jwt.Token, lookup func(kid string) (publicKey, error)) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid")
	}
	k, err := lookup(kid)
	if err != nil {
		return nil, err
	}
	if t.Method.Alg() != k.alg {
		return nil, fmt.Errorf("alg %s does not match key %q (%s)", t.Method.Alg(), kid, k.alg)
	}
	return k.key, nil
}
