package token_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

const shopIssuer = "https://shop.example"

// joinNow is the verifier's clock in the join-token tests.
var joinNow = admittedAt

// joinKeyKinds are the algorithms a join token may be signed with.
var joinKeyKinds = []struct {
	alg string
	gen func(testing.TB) crypto.Signer
}{
	{token.AlgEdDSA, mustEd25519},
	{token.AlgES256, mustP256},
	{token.AlgRS256, func(tb testing.TB) crypto.Signer { return mustRSA(tb, 0) }},
}

// joinClaims are the claims of a join token for visitor-7, issued a minute
// before joinNow and valid for nine minutes in all.
func joinClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":      shopIssuer,
		"aud":      []string{"waitroom"},
		"sub":      "visitor-7",
		"event_id": "concert-1",
		"iat":      joinNow.Add(-time.Minute).Unix(),
		"exp":      joinNow.Add(8 * time.Minute).Unix(),
	}
}

func mustJoinVerifier(tb testing.TB, cfg token.JoinVerifierConfig) *token.JoinVerifier {
	tb.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = shopIssuer
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return joinNow }
	}
	v, err := token.NewJoinVerifier(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// joinSetup is a join verifier in one of its two ways of holding keys, with
// the key and kid a genuine token is signed with.
type joinSetup struct {
	name string
	v    *token.JoinVerifier
	key  crypto.Signer
	kid  string
	jwks *jwksServer // nil with pinned keys
}

// joinSetups returns, for key, a verifier pinned to it (and to a key of each
// other algorithm, so every algorithm is allowed and only the key decides)
// and a verifier on a JWKS that publishes it under a kid of the site's own.
func joinSetups(tb testing.TB, key crypto.Signer) []joinSetup {
	tb.Helper()
	pinned := []crypto.PublicKey{key.Public(), mustEd25519(tb).Public(), mustP256(tb).Public(), mustRSA(tb, 1).Public()}
	srv := serveJWKS(tb)
	srv.PublishKeys(tb, map[string]crypto.PublicKey{"shop-2026-03": key.Public(), "shop-old": mustP256(tb).Public()})
	return []joinSetup{
		{name: "pinned", v: mustJoinVerifier(tb, token.JoinVerifierConfig{Keys: pinned}), key: key, kid: thumbprintOf(tb, key.Public())},
		{name: "JWKS", v: mustJoinVerifier(tb, token.JoinVerifierConfig{JWKSURL: srv.URL}), key: key, kid: "shop-2026-03", jwks: srv},
	}
}

func TestJoinVerifierAccepts(t *testing.T) {
	for _, kind := range joinKeyKinds {
		for _, s := range joinSetups(t, kind.gen(t)) {
			t.Run(kind.alg+"/"+s.name, func(t *testing.T) {
				c, err := s.v.Verify(t.Context(), sign(t, methodOf(s.key), s.key, s.kid, joinClaims()))
				if err != nil {
					t.Fatal(err)
				}
				want := token.JoinClaims{Subject: "visitor-7", EventID: "concert-1", ExpiresAt: joinNow.Add(8 * time.Minute)}
				if c.Subject != want.Subject || c.EventID != want.EventID || c.Lane != "" || !c.ExpiresAt.Equal(want.ExpiresAt) {
					t.Errorf("claims = %+v, want %+v", c, want)
				}

				// aud as a single string, among others, a lane, no event.
				other := joinClaims()
				other["aud"] = "waitroom"
				other["lane"] = "members"
				delete(other, "event_id")
				if c, err := s.v.Verify(t.Context(), sign(t, methodOf(s.key), s.key, s.kid, other)); err != nil || c.Lane != "members" || c.EventID != "" {
					t.Errorf("Verify(aud as a string, a lane, no event) = %+v, %v", c, err)
				}
				other["aud"] = []string{"billing", "waitroom"}
				if _, err := s.v.Verify(t.Context(), sign(t, methodOf(s.key), s.key, s.kid, other)); err != nil {
					t.Errorf("Verify(two audiences) = %v", err)
				}
			})
		}
	}
}

// A token without kid is tried against the pinned keys of its alg.
func TestJoinVerifierPinnedWithoutKid(t *testing.T) {
	ed, ec := mustEd25519(t), mustP256(t)
	onlyEd := mustJoinVerifier(t, token.JoinVerifierConfig{Keys: []crypto.PublicKey{mustEd25519(t).Public(), ed.Public()}})
	both := mustJoinVerifier(t, token.JoinVerifierConfig{Keys: []crypto.PublicKey{ed.Public(), ec.Public()}})
	for _, c := range []struct {
		name   string
		v      *token.JoinVerifier
		tok    string
		reason string // "" if accepted
	}{
		{"second of two Ed25519 keys", onlyEd, sign(t, jwt.SigningMethodEdDSA, ed, "", joinClaims()), ""},
		{"ES256 where only EdDSA is pinned", onlyEd, sign(t, jwt.SigningMethodES256, ec, "", joinClaims()), "algorithm not allowed"},
		{"RS256 where only EdDSA is pinned", onlyEd, sign(t, jwt.SigningMethodRS256, mustRSA(t, 0), "", joinClaims()), "algorithm not allowed"},
		{"an Ed25519 key not pinned", onlyEd, sign(t, jwt.SigningMethodEdDSA, mustEd25519(t), "", joinClaims()), "bad signature"},
		{"ES256 of the pinned P-256 key", both, sign(t, jwt.SigningMethodES256, ec, "", joinClaims()), ""},
		{"ES256 of another P-256 key", both, sign(t, jwt.SigningMethodES256, mustP256(t), "", joinClaims()), "bad signature"},
		{"RS256 where no RSA key is pinned", both, sign(t, jwt.SigningMethodRS256, mustRSA(t, 0), "", joinClaims()), "algorithm not allowed"},
		{"ES256 under the Ed25519 key's kid", both, sign(t, jwt.SigningMethodES256, ec, thumbprintOf(t, ed.Public()), joinClaims()),
			"algorithm does not match the key"},
		{"a kid that is not a thumbprint", both, sign(t, jwt.SigningMethodEdDSA, ed, "shop-1", joinClaims()), "unknown key"},
	} {
		_, err := c.v.Verify(t.Context(), c.tok)
		if c.reason == "" {
			if err != nil {
				t.Errorf("%s: Verify = %v", c.name, err)
			}
			continue
		}
		assertJoinRefused(t, c.name, c.tok, err, c.reason)
	}
}

// TestJoinVerifierRejects is the join-token rejection suite: every case
// refused with a *JoinTokenError, for every algorithm, with pinned keys and
// with a JWKS, and the JWKS fetched once for all of them.
func TestJoinVerifierRejects(t *testing.T) {
	for _, kind := range joinKeyKinds {
		key := kind.gen(t)
		for _, s := range joinSetups(t, key) {
			if _, err := s.v.Verify(t.Context(), sign(t, methodOf(key), key, s.kid, joinClaims())); err != nil {
				t.Fatalf("%s/%s: the genuine token is refused: %v", kind.alg, s.name, err)
			}
			cases := append(attacks(t, target{key: key, kid: s.kid, claims: joinClaims, now: joinNow}),
				joinOnlyForgeries(t, key, s.kid)...)
			for _, f := range cases {
				t.Run(kind.alg+"/"+s.name+"/"+f.name, func(t *testing.T) {
					c, err := s.v.Verify(t.Context(), f.tok)
					if err == nil {
						t.Fatalf("Verify accepted it: %+v", c)
					}
					assertJoinRefused(t, "Verify", f.tok, err, f.reason)
				})
			}
			if s.jwks != nil {
				if n := s.jwks.fetches.Load(); n != 1 {
					t.Errorf("%s/%s: %d JWKS fetches, want 1", kind.alg, s.name, n)
				}
			}
		}
	}
}

// joinOnlyForgeries are the cases particular to join tokens.
func joinOnlyForgeries(tb testing.TB, key crypto.Signer, kid string) []forgery {
	tb.Helper()
	method := methodOf(key)
	edited := func(change func(jwt.MapClaims)) string {
		c := joinClaims()
		change(c)
		return sign(tb, method, key, kid, c)
	}
	fs := []forgery{
		{name: "exp more than MaxAge after iat", reason: "lifetime too long",
			tok: edited(func(c jwt.MapClaims) { c["exp"] = joinNow.Add(9*time.Minute + time.Second).Unix() })},
		{name: "a week-long token issued just now", reason: "lifetime too long",
			tok: edited(func(c jwt.MapClaims) { c["iat"], c["exp"] = joinNow.Unix(), joinNow.Add(7*24*time.Hour).Unix() })},
		{name: "missing iat", reason: "missing iat", tok: edited(func(c jwt.MapClaims) { delete(c, "iat") })},
		{name: "iat written as a string", reason: "malformed",
			tok: edited(func(c jwt.MapClaims) { c["iat"] = "1772366340" })},
		{name: "nbf written as a string", reason: "malformed", tok: edited(func(c jwt.MapClaims) { c["nbf"] = "0" })},
		{name: "event_id a number", reason: "malformed", tok: edited(func(c jwt.MapClaims) { c["event_id"] = 7 })},
		{name: "sub a number", reason: "malformed", tok: edited(func(c jwt.MapClaims) { c["sub"] = 7 })},
		{name: "kid a number", reason: "unknown key",
			tok: signWithHeader(tb, method, key, "", map[string]any{"kid": 7}, joinClaims())},
		{name: "expired and for another issuer", reason: "wrong issuer", tok: edited(func(c jwt.MapClaims) {
			c["iss"], c["iat"], c["exp"] = "https://elsewhere.example", joinNow.Add(-time.Hour).Unix(), joinNow.Add(-55*time.Minute).Unix()
		})},
		{name: "empty", reason: "empty", tok: ""},
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		fs = append(fs,
			forgery{name: "RS512 with our RSA key", reason: "algorithm not allowed",
				tok: sign(tb, jwt.SigningMethodRS512, key, kid, joinClaims())},
			forgery{name: "PS256 with our RSA key", reason: "algorithm not allowed",
				tok: sign(tb, jwt.SigningMethodPS256, key, kid, joinClaims())})
	}
	return fs
}

// assertJoinRefused checks that err is a *JoinTokenError with the reason,
// if one is given, and that its message quotes nothing of the token.
func assertJoinRefused(tb testing.TB, what, tok string, err error, reason string) {
	tb.Helper()
	var refused *token.JoinTokenError
	if !errors.As(err, &refused) {
		tb.Errorf("%s = %v, want a *JoinTokenError", what, err)
		return
	}
	if refused.Reason == "" || reason != "" && refused.Reason != reason {
		tb.Errorf("%s = %q, want reason %q", what, err, reason)
	}
	if !strings.HasPrefix(err.Error(), "invalid join token: ") {
		tb.Errorf("%s = %q", what, err)
	}
	for part := range strings.SplitSeq(tok, ".") {
		if len(part) >= 8 && strings.Contains(err.Error(), part[:8]) {
			tb.Errorf("%s = %q quotes the token", what, err)
		}
	}
}

// The expired reason is exactly "expired", however long ago, and only past
// the leeway.
func TestJoinVerifierExpiry(t *testing.T) {
	key := mustEd25519(t)
	tok := sign(t, jwt.SigningMethodEdDSA, key, "", joinClaims())
	exp := joinNow.Add(8 * time.Minute)
	for _, c := range []struct {
		now    time.Time
		reason string // "" if accepted
	}{
		{exp.Add(-time.Second), ""},
		{exp.Add(20 * time.Second), ""},
		{exp.Add(time.Minute), "expired"},
		{exp.Add(365 * 24 * time.Hour), "expired"},
		{joinNow.Add(-2 * time.Minute), "not valid yet"},
	} {
		v := mustJoinVerifier(t, token.JoinVerifierConfig{Keys: []crypto.PublicKey{key.Public()}, Now: func() time.Time { return c.now }})
		_, err := v.Verify(t.Context(), tok)
		if c.reason == "" {
			if err != nil {
				t.Errorf("at %v: Verify = %v", c.now, err)
			}
			continue
		}
		assertJoinRefused(t, "Verify at "+c.now.String(), tok, err, c.reason)
		if c.reason == "expired" && err.Error() != "invalid join token: expired" {
			t.Errorf("Verify = %q", err)
		}
	}
}

func TestJoinVerifierMaxAge(t *testing.T) {
	key := mustEd25519(t)
	claims := func(lifetime time.Duration) jwt.MapClaims {
		c := joinClaims()
		c["iat"], c["exp"] = joinNow.Unix(), joinNow.Add(lifetime).Unix()
		return c
	}
	for _, c := range []struct {
		maxAge, lifetime time.Duration
		ok               bool
	}{
		{0, token.DefaultJoinMaxAge, true},
		{0, token.DefaultJoinMaxAge + time.Second, false},
		{time.Hour, time.Hour, true},
		{time.Hour, time.Hour + time.Second, false},
		{time.Minute, 2 * time.Minute, false},
	} {
		v := mustJoinVerifier(t, token.JoinVerifierConfig{Keys: []crypto.PublicKey{key.Public()}, MaxAge: c.maxAge})
		tok := sign(t, jwt.SigningMethodEdDSA, key, "", claims(c.lifetime))
		_, err := v.Verify(t.Context(), tok)
		if c.ok && err != nil {
			t.Errorf("MaxAge %v, lifetime %v: %v", c.maxAge, c.lifetime, err)
		}
		if !c.ok {
			assertJoinRefused(t, "Verify", tok, err, "lifetime too long")
		}
	}
}

// 1,000 tokens of 1,000 different unknown kids, at once, fetch the JWKS once;
// the next fetch waits for MinRefresh, a minute by default.
func TestJoinVerifierFloodOfUnknownKids(t *testing.T) {
	key := mustEd25519(t)
	srv := serveJWKS(t)
	srv.PublishKeys(t, map[string]crypto.PublicKey{"shop-1": key.Public()})
	clk := newClock(joinNow)
	v := mustJoinVerifier(t, token.JoinVerifierConfig{JWKSURL: srv.URL, Now: clk.Now})
	verify := func(tok string) error {
		_, err := v.Verify(t.Context(), tok)
		var refused *token.JoinTokenError
		if err != nil && (!errors.As(err, &refused) || refused.Reason != "unknown key") {
			t.Errorf("Verify = %v, want unknown key", err)
		}
		return err
	}

	floodUnknownKids(t, 1000, joinClaims(), verify)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for 1,000 unknown kids, want 1", n)
	}
	clk.Advance(59 * time.Second)
	floodUnknownKids(t, 1000, joinClaims(), verify)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches within a minute, want 1", n)
	}
	clk.Advance(time.Second)
	floodUnknownKids(t, 1000, joinClaims(), verify)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches a minute later, want 2", n)
	}
}

// The site adds a key: the first token of its kid refetches the JWKS, if no
// fetch ran in the last MinRefresh.
func TestJoinVerifierJWKSRotation(t *testing.T) {
	oldKey, newKey := mustEd25519(t), mustRSA(t, 0)
	srv := serveJWKS(t)
	srv.PublishKeys(t, map[string]crypto.PublicKey{"old": oldKey.Public()})
	clk := newClock(joinNow)
	v := mustJoinVerifier(t, token.JoinVerifierConfig{JWKSURL: srv.URL, Now: clk.Now})
	oldTok := sign(t, jwt.SigningMethodEdDSA, oldKey, "old", joinClaims())
	newTok := sign(t, jwt.SigningMethodRS256, newKey, "new", joinClaims())

	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatal(err)
	}
	srv.PublishKeys(t, map[string]crypto.PublicKey{"old": oldKey.Public(), "new": newKey.Public()})
	_, err := v.Verify(t.Context(), newTok)
	assertJoinRefused(t, "Verify(new kid within MinRefresh)", newTok, err, "unknown key")
	clk.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Fatalf("Verify(new kid after MinRefresh) = %v", err)
	}
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("Verify(old kid) = %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// While the site is down the keys fetched before keep working, past their
// max-age; a token that cannot be checked is not called invalid.
func TestJoinVerifierJWKSDown(t *testing.T) {
	key := mustEd25519(t)
	srv := serveJWKS(t)
	srv.PublishKeys(t, map[string]crypto.PublicKey{"shop-1": key.Public()})
	srv.failing.Store(true)
	clk := newClock(joinNow)
	var logs syncBuffer
	v := mustJoinVerifier(t, token.JoinVerifierConfig{
		JWKSURL: srv.URL, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	at := func(now time.Time) string {
		c := joinClaims()
		c["iat"], c["exp"] = now.Add(-time.Minute).Unix(), now.Add(5*time.Minute).Unix()
		return sign(t, jwt.SigningMethodEdDSA, key, "shop-1", c)
	}

	tok := at(clk.Now())
	_, err := v.Verify(t.Context(), tok)
	var refused *token.JoinTokenError
	if !errors.Is(err, token.ErrJWKSUnavailable) || errors.As(err, &refused) {
		t.Fatalf("Verify with the site down from the start = %v, want ErrJWKSUnavailable and no JoinTokenError", err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), tok[:20]) {
		t.Errorf("log = %q, want a warning that quotes no token", logs.String())
	}

	srv.failing.Store(false)
	clk.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), at(clk.Now())); err != nil {
		t.Fatalf("Verify once the site is up = %v", err)
	}
	srv.failing.Store(true)
	clk.Advance(time.Hour) // far past the max-age of 300 s
	if _, err := v.Verify(t.Context(), at(clk.Now())); err != nil {
		t.Fatalf("Verify on stale keys with the site down = %v", err)
	}
	unknown := sign(t, jwt.SigningMethodEdDSA, mustEd25519(t), "shop-2", joinClaims())
	clk.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), unknown); !errors.Is(err, token.ErrJWKSUnavailable) {
		t.Errorf("Verify(unknown kid, site down) = %v, want ErrJWKSUnavailable", err)
	}
	if n := srv.fetches.Load(); n != 4 {
		t.Errorf("%d fetches, want 4", n)
	}
}

// Keys a JWKS publishes that cannot verify join tokens safely are skipped,
// so a token naming one is of an unknown key.
func TestJoinVerifierJWKSSkipsUnusableKeys(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := mustEd25519(t)
	srv := serveJWKS(t)
	srv.PublishKeys(t, map[string]crypto.PublicKey{"weak": weak.Public(), "good": good.Public()})
	v := mustJoinVerifier(t, token.JoinVerifierConfig{JWKSURL: srv.URL})
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodEdDSA, good, "good", joinClaims())); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodRS256, weak, "weak", joinClaims())
	_, err = v.Verify(t.Context(), tok)
	assertJoinRefused(t, "Verify(1024-bit RSA key)", tok, err, "unknown key")
}

func TestNewJoinVerifierErrors(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed := []crypto.PublicKey{mustEd25519(t).Public()}
	for _, c := range []struct {
		name string
		cfg  token.JoinVerifierConfig
		want string
	}{
		{"zero", token.JoinVerifierConfig{}, "Issuer is required"},
		{"no issuer", token.JoinVerifierConfig{Keys: ed}, "Issuer is required"},
		{"no keys", token.JoinVerifierConfig{Issuer: shopIssuer}, "needs Keys or a JWKSURL"},
		{"both", token.JoinVerifierConfig{Issuer: shopIssuer, Keys: ed, JWKSURL: "https://shop.example/jwks.json"}, "both"},
		{"bad URL", token.JoinVerifierConfig{Issuer: shopIssuer, JWKSURL: "shop.example/jwks.json"}, "not an absolute http or https URL"},
		{"short RSA", token.JoinVerifierConfig{Issuer: shopIssuer, Keys: []crypto.PublicKey{weak.Public()}}, "Keys[0]: RSA key of 1024 bits is too short"},
		{"P-384", token.JoinVerifierConfig{Issuer: shopIssuer, Keys: append(ed, p384.Public())}, "Keys[1]: ECDSA key on curve P-384"},
		{"HMAC secret", token.JoinVerifierConfig{Issuer: shopIssuer, Keys: []crypto.PublicKey{[]byte("secret")}}, "unsupported key type []uint8"},
		{"nil key", token.JoinVerifierConfig{Issuer: shopIssuer, Keys: []crypto.PublicKey{nil}}, "no key"},
	} {
		if _, err := token.NewJoinVerifier(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewJoinVerifier error = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// With only the required fields, the defaults hold: audience "waitroom",
// lifetimes up to ten minutes, the real clock.
func TestJoinVerifierDefaults(t *testing.T) {
	key := mustEd25519(t)
	v, err := token.NewJoinVerifier(token.JoinVerifierConfig{Issuer: shopIssuer, Keys: []crypto.PublicKey{key.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := joinClaims()
	c["aud"], c["iat"], c["exp"] = token.DefaultJoinAudience, now.Unix(), now.Add(token.DefaultJoinMaxAge).Unix()
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodEdDSA, key, "", c)); err != nil {
		t.Fatal(err)
	}
	c["aud"] = token.DefaultAudience // a checkout token's audience is not a join token's
	tok := sign(t, jwt.SigningMethodEdDSA, key, "", c)
	_, err = v.Verify(t.Context(), tok)
	assertJoinRefused(t, "Verify", tok, err, "wrong audience")
}

// syncBuffer is a bytes.Buffer a logger and a test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A pinned key's kid is its RFC 7638 thumbprint: here the RSA key of RFC
// 7638 section 3.1, whose thumbprint the RFC gives. A token naming that kid
// reaches the key (and fails only on its signature, the private key being
// unknown); the kid the RFC's JWK gives it names nothing.
func TestJoinVerifierKidIsRFC7638Thumbprint(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	rfcKey := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	const rfcThumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	if got := thumbprintOf(t, rfcKey); got != rfcThumbprint {
		t.Fatalf("the tests' thumbprint = %s, want %s", got, rfcThumbprint)
	}
	v := mustJoinVerifier(t, token.JoinVerifierConfig{Keys: []crypto.PublicKey{rfcKey}})
	for kid, reason := range map[string]string{rfcThumbprint: "bad signature", "2011-04-29": "unknown key"} {
		tok := sign(t, jwt.SigningMethodRS256, mustRSA(t, 0), kid, joinClaims())
		_, err := v.Verify(t.Context(), tok)
		assertJoinRefused(t, "Verify(kid "+kid+")", tok, err, reason)
	}

	// Ed25519 and P-256 keys are named as the checkout Issuer names them.
	for _, kind := range keyKinds {
		key := kind.gen(t)
		if got, want := thumbprintOf(t, key.Public()), mustIssuer(t, key, token.IssuerConfig{}).KeyID(); got != want {
			t.Errorf("%s: the tests' thumbprint = %s, Issuer.KeyID = %s", kind.alg, got, want)
		}
	}
}
