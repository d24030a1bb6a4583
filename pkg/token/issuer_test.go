package token_test

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

func TestIssueRoundTrip(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.alg, func(t *testing.T) {
			iss := mustIssuer(t, kind.gen(t), token.IssuerConfig{})
			tok := mustIssue(t, iss, testSession())

			header, payload := segments(t, tok)
			wantHeader := map[string]any{"alg": kind.alg, "typ": "JWT", "kid": iss.KeyID()}
			if !reflect.DeepEqual(header, wantHeader) {
				t.Errorf("header = %v, want %v", header, wantHeader)
			}
			at, deadline := float64(admittedAt.Unix()), float64(admittedAt.Add(10*time.Minute).Unix())
			wantPayload := map[string]any{
				"iss": "waitroom", "aud": []any{"checkout"}, "sub": "user-42",
				"sid": testSessionID, "event": "concert-1", "jti": testSessionID,
				"iat": at, "nbf": at, "exp": deadline,
			}
			if !reflect.DeepEqual(payload, wantPayload) {
				t.Errorf("payload = %v, want %v", payload, wantPayload)
			}

			sid, err := iss.SessionID(tok)
			if err != nil || sid != testSessionID {
				t.Fatalf("SessionID = %q, %v; want %q", sid, err, testSessionID)
			}
		})
	}
}

func TestIssueEdDSAIsDeterministic(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	first := mustIssue(t, iss, testSession())
	for range 3 {
		if again := mustIssue(t, iss, testSession()); again != first {
			t.Fatalf("second token differs:\n%s\n%s", first, again)
		}
	}
	other := testSession()
	other.SessionID = "concert-1~zzzzzzzzzzzzzzzzzzzzzzzzzz"
	if mustIssue(t, iss, other) == first {
		t.Fatal("another session got the same token")
	}
}

func TestIssueRefusesUnadmittedSession(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	for name, edit := range map[string]func(*token.Admission){
		"not admitted":    func(a *token.Admission) { a.AdmittedAt, a.CheckoutDeadline = time.Time{}, time.Time{} },
		"deadline before": func(a *token.Admission) { a.CheckoutDeadline = a.AdmittedAt.Add(-time.Second) },
		"no session id":   func(a *token.Admission) { a.SessionID = "" },
		"no user":         func(a *token.Admission) { a.UserID = "" },
		"no event":        func(a *token.Admission) { a.EventID = "" },
	} {
		s := testSession()
		edit(&s)
		if tok, err := iss.Issue(s); err == nil {
			t.Errorf("%s: Issue = %q, want an error", name, tok)
		}
	}
}

// SessionID must still name the session of an expired token, so completing
// with it can say "session expired".
func TestSessionIDAcceptsExpiredToken(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	s := testSession()
	s.AdmittedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	s.CheckoutDeadline = s.AdmittedAt.Add(time.Minute)
	sid, err := iss.SessionID(mustIssue(t, iss, s))
	if err != nil || sid != s.SessionID {
		t.Fatalf("SessionID = %q, %v; want %q", sid, err, s.SessionID)
	}
}

func TestSessionIDRejectsForgeries(t *testing.T) {
	for _, kind := range keyKinds {
		key := kind.gen(t)
		iss := mustIssuer(t, key, token.IssuerConfig{})
		for _, f := range forgeries(t, key) {
			if f.timing {
				continue // SessionID names the session of an expired token
			}
			t.Run(kind.alg+"/"+f.name, func(t *testing.T) {
				sid, err := iss.SessionID(f.tok)
				var invalid *token.InvalidTokenError
				if !errors.As(err, &invalid) || invalid.Reason == "" {
					t.Fatalf("SessionID = %q, %v; want an InvalidTokenError with a reason", sid, err)
				}
			})
		}
	}
}

// Rotation: the new issuer signs with the new key and still accepts tokens of
// the old one, which it keeps publishing.
func TestIssuerExtraPublicKeys(t *testing.T) {
	oldKey, newKey := mustEd25519(t), mustP256(t)
	oldIss := mustIssuer(t, oldKey, token.IssuerConfig{})
	newIss := mustIssuer(t, newKey, token.IssuerConfig{ExtraPublicKeys: []crypto.PublicKey{oldKey.Public(), newKey.Public()}})

	if sid, err := newIss.SessionID(mustIssue(t, oldIss, testSession())); err != nil || sid != testSessionID {
		t.Errorf("new issuer on old token: %q, %v", sid, err)
	}
	if _, err := oldIss.SessionID(mustIssue(t, newIss, testSession())); err == nil {
		t.Error("old issuer accepted a token of a key it does not know")
	}
	_, payload := segments(t, mustIssue(t, newIss, testSession()))
	if payload["iss"] != "waitroom" {
		t.Errorf("iss = %v", payload["iss"])
	}
	keys := jwksKeys(t, newIss.JWKS())
	if len(keys) != 2 || keys[0]["kid"] != newIss.KeyID() || keys[1]["kid"] != oldIss.KeyID() {
		t.Errorf("JWKS = %v, want the new key then the old one (each once)", keys)
	}
}

func TestNewIssuerRejectsBadKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		key  crypto.Signer
		cfg  token.IssuerConfig
		want string
	}{
		{"no key", nil, token.IssuerConfig{}, "signing key is required"},
		{"RSA", rsaKey, token.IssuerConfig{}, "RSA keys are not supported"},
		{"P-384", p384, token.IssuerConfig{}, "P-384 is not supported"},
		{"ES256 from an opaque signer", opaqueSigner{mustP256(t)}, token.IssuerConfig{}, "needs an *ecdsa.PrivateKey"},
		{"bad extra key", mustEd25519(t), token.IssuerConfig{ExtraPublicKeys: []crypto.PublicKey{rsaKey.Public()}},
			"ExtraPublicKeys[0]: RSA"},
	} {
		_, err := token.NewIssuer(c.key, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewIssuer error = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// An Ed25519 key behind any crypto.Signer (a KMS, an HSM) can sign.
func TestIssuerSignsWithOpaqueEd25519Signer(t *testing.T) {
	key := mustEd25519(t)
	iss := mustIssuer(t, opaqueSigner{key}, token.IssuerConfig{})
	want := mustIssue(t, mustIssuer(t, key, token.IssuerConfig{}), testSession())
	if got := mustIssue(t, iss, testSession()); got != want {
		t.Fatalf("opaque signer token = %s, want %s", got, want)
	}
}

// opaqueSigner hides the concrete key type, like a hardware-backed signer.
type opaqueSigner struct{ crypto.Signer }

// TestIssueEncodesAsGolangJWT: Issue writes the header and claims itself,
// for speed; they must be the very bytes golang-jwt writes for Claims, with
// awkward issuers and audiences and every id character a session may hold.
func TestIssueEncodesAsGolangJWT(t *testing.T) {
	sessions := []token.Admission{testSession()}
	odd := testSession()
	odd.UserID, odd.EventID = "a:b@c.d_E-9", "Ev.ent-1_x"
	odd.SessionID = odd.EventID + "~0123456789abcdefghjkmnpqrs"
	odd.AdmittedAt = time.Date(2031, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	odd.CheckoutDeadline = odd.AdmittedAt.Add(time.Second)
	sessions = append(sessions, odd)

	for _, k := range keyKinds {
		for _, names := range [][2]string{
			{"", ""},
			{"https://queue.example/é", `a"b\c<d>&e` + "\x01\u2028"},
		} {
			key := k.gen(t)
			iss := mustIssuer(t, key, token.IssuerConfig{Issuer: names[0], Audience: names[1]})
			issuer, audience := cmp.Or(names[0], token.DefaultIssuer), cmp.Or(names[1], token.DefaultAudience)
			for _, s := range sessions {
				got, err := iss.Issue(s)
				if err != nil {
					t.Fatal(err)
				}
				ref := jwt.NewWithClaims(jwt.GetSigningMethod(k.alg), &token.Claims{
					RegisteredClaims: jwt.RegisteredClaims{
						Issuer: issuer, Subject: s.UserID, Audience: jwt.ClaimStrings{audience},
						ExpiresAt: jwt.NewNumericDate(s.CheckoutDeadline),
						NotBefore: jwt.NewNumericDate(s.AdmittedAt), IssuedAt: jwt.NewNumericDate(s.AdmittedAt),
						ID: s.SessionID,
					},
					SessionID: s.SessionID, EventID: s.EventID,
				})
				ref.Header["kid"] = iss.KeyID()
				want, err := ref.SigningString()
				if err != nil {
					t.Fatal(err)
				}
				if signing := got[:strings.LastIndexByte(got, '.')]; signing != want {
					t.Errorf("%s, issuer %q: signed\n%s\nwant\n%s", k.alg, names[0], signing, want)
				}
				if k.alg == token.AlgEdDSA {
					full, err := ref.SignedString(key)
					if err != nil {
						t.Fatal(err)
					}
					if got != full {
						t.Errorf("EdDSA token differs from golang-jwt's:\n%s\n%s", got, full)
					}
				}
				if id, err := iss.SessionID(got); err != nil || id != s.SessionID {
					t.Errorf("SessionID(issued) = %q, %v", id, err)
				}
			}
		}
	}
}

// TestIssueConcurrently issues from many goroutines at once, as a crowd of
// admitted streams does: every token is the session's own (the signer pool
// hands each caller its own signature).
func TestIssueConcurrently(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.alg, func(t *testing.T) {
			iss := mustIssuer(t, kind.gen(t), token.IssuerConfig{})
			var wg sync.WaitGroup
			for g := range 32 {
				wg.Go(func() {
					for n := range 20 {
						s := testSession()
						s.SessionID = fmt.Sprintf("%s~%02d%024d", s.EventID, g, n)
						s.UserID = fmt.Sprintf("user-%d-%d", g, n)
						tok, err := iss.Issue(s)
						if err != nil {
							t.Error(err)
							return
						}
						if id, err := iss.SessionID(tok); err != nil || id != s.SessionID {
							t.Errorf("token for %s reads back as %q, %v", s.SessionID, id, err)
						}
						if _, payload := segments(t, tok); payload["sub"] != s.UserID {
							t.Errorf("token for %s has sub %v", s.UserID, payload["sub"])
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
