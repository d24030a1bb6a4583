package token_test

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

func TestVerifierRoundTrip(t *testing.T) {
	for _, kind := range keyKinds {
		t.Run(kind.alg, func(t *testing.T) {
			iss := mustIssuer(t, kind.gen(t), token.IssuerConfig{})
			srv := newJWKSServer(t, iss)
			v := mustVerifier(t, srv.URL, newClock(admittedAt.Add(time.Minute)))

			c, err := v.Verify(t.Context(), mustIssue(t, iss, testSession()))
			if err != nil {
				t.Fatal(err)
			}
			s := testSession()
			if c.SessionID != s.SessionID || c.EventID != s.EventID || c.Subject != s.UserID || c.ID != s.SessionID ||
				c.Issuer != "waitroom" || len(c.Audience) != 1 || c.Audience[0] != "checkout" ||
				!c.IssuedAt.Equal(s.AdmittedAt) || !c.NotBefore.Equal(s.AdmittedAt) || !c.ExpiresAt.Equal(s.CheckoutDeadline) {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestVerifierRejectsForgeries(t *testing.T) {
	for _, kind := range keyKinds {
		key := kind.gen(t)
		srv := newJWKSServer(t, mustIssuer(t, key, token.IssuerConfig{}))
		v := mustVerifier(t, srv.URL, newClock(admittedAt.Add(time.Minute)))
		for _, f := range forgeries(t, key) {
			t.Run(kind.alg+"/"+f.name, func(t *testing.T) {
				c, err := v.Verify(t.Context(), f.tok)
				if err == nil {
					t.Fatalf("Verify accepted it: %+v", c)
				}
				if errors.Is(err, token.ErrJWKSUnavailable) {
					t.Fatalf("Verify = %v, want an invalid token, not an unavailable JWKS", err)
				}
				if f.want != nil && !errors.Is(err, f.want) {
					t.Fatalf("Verify = %v, want it to wrap %v", err, f.want)
				}
			})
		}
		// The junk kids above must not have cost more than the first fetch.
		if n := srv.fetches.Load(); n != 1 {
			t.Errorf("%s: %d JWKS fetches, want 1", kind.alg, n)
		}
	}
}

func TestVerifierChecksTimes(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	srv := newJWKSServer(t, iss)
	tok := mustIssue(t, iss, testSession())
	deadline := testSession().CheckoutDeadline
	for _, c := range []struct {
		name string
		now  time.Time
		want error // nil: valid
	}{
		{"at admission", admittedAt, nil},
		{"just before the deadline", deadline.Add(-time.Second), nil},
		{"within the leeway after the deadline", deadline.Add(10 * time.Second), nil},
		{"after the deadline", deadline.Add(time.Minute), jwt.ErrTokenExpired},
		{"long before admission", admittedAt.Add(-time.Hour), jwt.ErrTokenUsedBeforeIssued},
	} {
		v := mustVerifier(t, srv.URL, newClock(c.now))
		_, err := v.Verify(t.Context(), tok)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

// A key rotation: the verifier meets a token of a kid it does not know, and
// picks the new key up as soon as the JWKS publishes it; tokens of the old key,
// still published, keep working.
func TestVerifierPicksUpRotatedKey(t *testing.T) {
	oldKey, newKey := mustEd25519(t), mustP256(t)
	oldIss := mustIssuer(t, oldKey, token.IssuerConfig{})
	newIss := mustIssuer(t, newKey, token.IssuerConfig{ExtraPublicKeys: []crypto.PublicKey{oldKey.Public()}})
	srv := newJWKSServer(t, oldIss)
	clk := newClock(admittedAt.Add(time.Second))
	v := mustVerifier(t, srv.URL, clk)
	oldTok, newTok := mustIssue(t, oldIss, testSession()), mustIssue(t, newIss, testSession())

	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatal(err)
	}
	// The new key is not published yet: unknown, and the refetch is rate-limited.
	if _, err := v.Verify(t.Context(), newTok); err == nil || !strings.Contains(err.Error(), "unknown kid") {
		t.Fatalf("Verify(new key before publication) = %v, want unknown kid", err)
	}

	srv.Publish(newIss)
	clk.Advance(time.Minute) // MinRefresh
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Fatalf("Verify(new key after publication) = %v", err)
	}
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("Verify(old key still published) = %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// 1,000 tokens of 1,000 different unknown kids, at once, fetch the JWKS once;
// the next fetch waits for MinRefresh.
func TestVerifierRateLimitsUnknownKids(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	srv := newJWKSServer(t, iss)
	clk := newClock(admittedAt.Add(time.Second))
	v := mustVerifier(t, srv.URL, clk)
	verify := func(tok string) error {
		_, err := v.Verify(t.Context(), tok)
		if err != nil && !strings.Contains(err.Error(), "unknown kid") {
			t.Errorf("Verify = %v, want unknown kid", err)
		}
		return err
	}

	floodUnknownKids(t, 1000, checkoutClaims(), verify)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after a flood of unknown kids, want 1", n)
	}
	clk.Advance(time.Minute)
	floodUnknownKids(t, 1000, checkoutClaims(), verify)
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a second flood one MinRefresh later, want 2", n)
	}
}

// When the JWKS's max-age passes, the verifier refetches even for a known kid,
// so a key the server stopped publishing stops being accepted.
func TestVerifierRefetchesAfterMaxAge(t *testing.T) {
	oldKey, newKey := mustEd25519(t), mustEd25519(t)
	oldIss := mustIssuer(t, oldKey, token.IssuerConfig{JWKSMaxAge: 5 * time.Minute})
	newIss := mustIssuer(t, newKey, token.IssuerConfig{})
	srv := newJWKSServer(t, oldIss)
	clk := newClock(admittedAt.Add(time.Second))
	v := mustVerifier(t, srv.URL, clk)
	s := testSession()
	s.CheckoutDeadline = admittedAt.Add(time.Hour)
	oldTok := mustIssue(t, oldIss, s)

	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatal(err)
	}
	srv.Publish(newIss) // the old key is withdrawn
	clk.Advance(4 * time.Minute)
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("within max-age: %v", err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := v.Verify(t.Context(), oldTok); err == nil {
		t.Fatal("a withdrawn key was still accepted after max-age")
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

func TestVerifierJWKSUnavailable(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	srv := newJWKSServer(t, iss)
	srv.failing.Store(true)
	clk := newClock(admittedAt.Add(time.Second))
	v := mustVerifier(t, srv.URL, clk)
	s := testSession()
	s.CheckoutDeadline = admittedAt.Add(time.Hour)
	tok := mustIssue(t, iss, s)

	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, token.ErrJWKSUnavailable) {
		t.Fatalf("Verify with the JWKS down = %v, want ErrJWKSUnavailable", err)
	}
	srv.failing.Store(false)
	clk.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify after recovery = %v", err)
	}
	// Down again past max-age: the cached keys keep working.
	srv.failing.Store(true)
	clk.Advance(10 * time.Minute)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify with stale keys and the JWKS down = %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

// Many verifications on a cold cache share one fetch.
func TestVerifierConcurrentColdStart(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	srv := newJWKSServer(t, iss)
	v := mustVerifier(t, srv.URL, newClock(admittedAt.Add(time.Second)))
	tok := mustIssue(t, iss, testSession())

	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range cap(errs) {
		wg.Go(func() {
			_, err := v.Verify(t.Context(), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// A caller waiting for another caller's fetch can give up; the fetch itself
// carries on for the one that started it.
func TestVerifierWaiterHonoursCancel(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		iss.JWKSHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	v := mustVerifier(t, srv.URL+token.JWKSPath, newClock(admittedAt.Add(time.Second)))
	tok := mustIssue(t, iss, testSession())

	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), tok)
		first <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := v.Verify(ctx, tok); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Verify with a cancelled context = %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("fetching Verify = %v", err)
	}
}

// Junk made of dots is refused before any parsing: a length check and a
// byte count, with no allocation beyond the error.
func TestVerifyRejectsManyDotsCheaply(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	srv := newJWKSServer(t, iss)
	v := mustVerifier(t, srv.URL, newClock(admittedAt))
	ctx := t.Context()
	for _, junk := range []string{strings.Repeat(".", 1<<20), strings.Repeat(".", token.MaxTokenLen)} {
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := v.Verify(ctx, junk); !errors.Is(err, jwt.ErrTokenMalformed) {
				t.Fatalf("Verify = %v", err)
			}
			if _, err := iss.SessionID(junk); err == nil {
				t.Fatal("SessionID accepted dots")
			}
		})
		if allocs > 6 {
			t.Errorf("%d dots: %.0f allocations per rejection, want a handful", len(junk), allocs)
		}
	}
	if n := srv.fetches.Load(); n != 0 {
		t.Errorf("junk caused %d JWKS fetches", n)
	}
}

func TestNewVerifierRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "jwks.json", "ftp://example.test/jwks.json", "http://"} {
		if _, err := token.NewVerifier(u, token.VerifierConfig{}); err == nil {
			t.Errorf("NewVerifier(%q) succeeded", u)
		}
	}
}
