package token_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/token"
)

// The fuzz targets verify with one fixed key and seed the fuzzer with the
// tokens it signed and every forgery the rejection tests build. A fuzzed
// token a verifier accepts must be one of the tokens the test signed for
// it to accept: nothing else verifies, however it was made.

func fixedKey() crypto.Signer {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// addSeeds adds the tokens as seeds, leaving out those so long that the
// fuzzer would spend its time copying them.
func addSeeds(f *testing.F, toks ...string) {
	for _, tok := range toks {
		if len(tok) <= 2*token.MaxTokenLen {
			f.Add(tok)
		}
	}
}

// FuzzIssuerSessionID: SessionID returns a session only for a token the
// issuer signed (an expired one included, by design), and refuses anything
// else with an *InvalidTokenError, never a panic.
func FuzzIssuerSessionID(f *testing.F) {
	key := fixedKey()
	iss := mustIssuer(f, key, token.IssuerConfig{})
	accepted := map[string]string{}
	for _, a := range []token.Admission{testSession(), otherSession()} {
		accepted[mustIssue(f, iss, a)] = a.SessionID
	}
	for _, fg := range forgeries(f, key) {
		if fg.timing {
			accepted[fg.tok] = testSessionID
		}
		addSeeds(f, fg.tok)
	}
	for tok := range accepted {
		addSeeds(f, tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := iss.SessionID(tok)
		if err != nil {
			if _, ok := errors.AsType[*token.InvalidTokenError](err); !ok {
				t.Fatalf("SessionID(%q) refused it with %T %v, not an *InvalidTokenError", tok, err, err)
			}
			return
		}
		want, ok := accepted[tok]
		if !ok {
			t.Fatalf("SessionID accepted %q, which the test never signed, as session %q", tok, id)
		}
		if id != want {
			t.Fatalf("SessionID(%q) = %q, signed for %q", tok, id, want)
		}
	})
}

// FuzzVerifierVerify: the checkout Verifier, on the issuer's JWKS served
// over HTTP, accepts only the tokens the issuer signed for the sessions
// admitted a minute ago.
func FuzzVerifierVerify(f *testing.F) {
	key := fixedKey()
	iss := mustIssuer(f, key, token.IssuerConfig{})
	v := mustVerifier(f, newJWKSServer(f, iss).URL, newClock(admittedAt.Add(time.Minute)))
	genuine := map[string]string{}
	for _, a := range []token.Admission{testSession(), otherSession()} {
		tok := mustIssue(f, iss, a)
		genuine[tok] = a.SessionID
		addSeeds(f, tok)
	}
	for _, fg := range forgeries(f, key) {
		addSeeds(f, fg.tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := v.Verify(ctx, tok)
		if err != nil {
			if errors.Is(err, token.ErrJWKSUnavailable) {
				t.Fatalf("Verify(%q): the JWKS served by the test is unavailable: %v", tok, err)
			}
			return
		}
		want, ok := genuine[tok]
		if !ok {
			t.Fatalf("Verify accepted %q, which the test never signed for it: %+v", tok, c)
		}
		if c.SessionID != want {
			t.Fatalf("Verify(%q) read session %q, signed for %q", tok, c.SessionID, want)
		}
	})
}

// FuzzJoinVerifierVerify: a JoinVerifier pinned to the fixed key (and to
// public keys of the other algorithms, so every algorithm is allowed and
// only the key decides) accepts only the join tokens the test signed, with
// and without kid, and refuses anything else with a *JoinTokenError.
func FuzzJoinVerifierVerify(f *testing.F) {
	key := fixedKey()
	v := mustJoinVerifier(f, token.JoinVerifierConfig{
		Keys: []crypto.PublicKey{key.Public(), mustP256(f).Public(), mustRSA(f, 1).Public()},
	})
	kid := thumbprintOf(f, key.Public())
	method := methodOf(key)
	genuine := []string{sign(f, method, key, kid, joinClaims()), sign(f, method, key, "", joinClaims())}
	addSeeds(f, genuine...)
	for _, fg := range append(attacks(f, target{key: key, kid: kid, claims: joinClaims, now: joinNow}),
		joinOnlyForgeries(f, key, kid)...) {
		addSeeds(f, fg.tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			if _, ok := errors.AsType[*token.JoinTokenError](err); !ok {
				t.Fatalf("Verify(%q) with pinned keys refused it with %T %v, not a *JoinTokenError", tok, err, err)
			}
			return
		}
		if !slices.Contains(genuine, tok) {
			t.Fatalf("Verify accepted %q, which the test never signed: %+v", tok, c)
		}
		if c.Subject != "visitor-7" || c.EventID != "concert-1" {
			t.Fatalf("Verify(%q) read %+v", tok, c)
		}
	})
}

// otherSession is a second admission, to another event.
func otherSession() token.Admission {
	a := testSession()
	a.SessionID, a.EventID, a.UserID = "festival~zyxwvtsrqpnmkjhgfedcba98765", "festival", "user-7"
	return a
}
