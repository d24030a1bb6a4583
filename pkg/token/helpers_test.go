package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

// admittedAt is the fixed admission time of every test session.
var admittedAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testSessionID = "concert-1~0123456789abcdefghjkmnpqrs"

func testSession() token.Admission {
	return token.Admission{
		SessionID:        testSessionID,
		UserID:           "user-42",
		EventID:          "concert-1",
		AdmittedAt:       admittedAt,
		CheckoutDeadline: admittedAt.Add(10 * time.Minute),
	}
}

// keyKinds are the two supported signing algorithms, by name.
var keyKinds = []struct {
	alg string
	gen func(testing.TB) crypto.Signer
}{
	{token.AlgEdDSA, mustEd25519},
	{token.AlgES256, mustP256},
}

func mustEd25519(tb testing.TB) crypto.Signer {
	tb.Helper()
	k, err := token.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustP256(tb testing.TB) crypto.Signer {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustIssuer(tb testing.TB, key crypto.Signer, cfg token.IssuerConfig) *token.Issuer {
	tb.Helper()
	iss, err := token.NewIssuer(key, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(iss.Close)
	return iss
}

func mustIssue(tb testing.TB, iss *token.Issuer, s token.Admission) string {
	tb.Helper()
	tok, err := iss.Issue(s)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// clock is a settable clock for the verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer serves the JWKS published last, counting fetches.
type jwksServer struct {
	URL     string
	current atomic.Pointer[http.Handler]
	fetches atomic.Int64
	failing atomic.Bool
}

func newJWKSServer(tb testing.TB, iss *token.Issuer) *jwksServer {
	tb.Helper()
	s := serveJWKS(tb)
	s.Publish(iss)
	return s
}

// serveJWKS starts a jwksServer; publish on it before anything fetches.
func serveJWKS(tb testing.TB) *jwksServer {
	tb.Helper()
	s := &jwksServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != token.JWKSPath {
			http.NotFound(w, r)
			return
		}
		s.fetches.Add(1)
		if s.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		(*s.current.Load()).ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL + token.JWKSPath
	return s
}

// Publish makes the server serve iss's JWKS from now on.
func (s *jwksServer) Publish(iss *token.Issuer) {
	h := iss.JWKSHandler()
	s.current.Store(&h)
}

// PublishKeys makes the server serve a JWKS of the given keys by kid, as a
// ticketing site would, cacheable for five minutes.
func (s *jwksServer) PublishKeys(tb testing.TB, keys map[string]crypto.PublicKey) {
	tb.Helper()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for kid, pub := range keys {
		j := publicJWK(tb, pub, kid)
		j["use"] = "sig"
		set.Keys = append(set.Keys, j)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		w.Write(doc)
	})
	s.current.Store(&h)
}

func mustVerifier(tb testing.TB, url string, c *clock) *token.Verifier {
	tb.Helper()
	v, err := token.NewVerifier(url, token.VerifierConfig{Now: c.Now, MinRefresh: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// sign makes a token with any method, key and claims, setting kid if not empty.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// validClaims are the claims Issue would sign for testSession.
func validClaims() *token.Claims {
	s := testSession()
	return &token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    token.DefaultIssuer,
			Subject:   s.UserID,
			Audience:  jwt.ClaimStrings{token.DefaultAudience},
			ExpiresAt: jwt.NewNumericDate(s.CheckoutDeadline),
			NotBefore: jwt.NewNumericDate(s.AdmittedAt),
			IssuedAt:  jwt.NewNumericDate(s.AdmittedAt),
			ID:        s.SessionID,
		},
		SessionID: s.SessionID,
		EventID:   s.EventID,
	}
}

// segments decodes a token's header and payload as JSON objects.
func segments(tb testing.TB, tok string) (header, payload map[string]any) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d parts", len(parts))
	}
	decode := func(seg string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			tb.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			tb.Fatal(err)
		}
		return m
	}
	return decode(parts[0]), decode(parts[1])
}

func encodeSegment(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
