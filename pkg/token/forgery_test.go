package token_test

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

// forgeries builds the checkout tokens neither SessionID nor Verify may
// accept, against an issuer made with the default issuer and audience from
// key and a verifier whose clock reads a minute after admission: the cases
// every verifier must refuse, and those particular to checkout tokens.
func forgeries(tb testing.TB, key crypto.Signer) []forgery {
	tb.Helper()
	iss := mustIssuer(tb, key, token.IssuerConfig{})
	kid := iss.KeyID()
	method := methodOf(key)
	good := mustIssue(tb, iss, testSession())
	parts := strings.Split(good, ".")

	noSID := validClaims()
	noSID.SessionID = ""
	flipped := []byte(parts[2])
	flipped[3] ^= 'A' ^ 'B'

	checkout := []forgery{
		{name: "empty", tok: ""},
		{name: "garbage", tok: "not-a-token", want: jwt.ErrTokenMalformed},
		{name: "over-long", tok: strings.Repeat("a", 1<<20) + ".b.c", want: jwt.ErrTokenMalformed},
		{name: "two parts", tok: parts[0] + "." + parts[1], want: jwt.ErrTokenMalformed},
		{name: "flipped signature", tok: parts[0] + "." + parts[1] + "." + string(flipped)},
		{name: "no signature", tok: parts[0] + "." + parts[1] + "."},
		{name: "unknown issuer's token", want: jwt.ErrTokenUnverifiable,
			tok: mustIssue(tb, mustIssuer(tb, mustEd25519(tb), token.IssuerConfig{}), testSession())},
		{name: "no kid", want: jwt.ErrTokenUnverifiable, tok: sign(tb, method, key, "", validClaims())},
		{name: "issuer configured elsewhere", want: jwt.ErrTokenInvalidIssuer,
			tok: mustIssue(tb, mustIssuer(tb, key, token.IssuerConfig{Issuer: "elsewhere"}), testSession())},
		{name: "audience configured elsewhere", want: jwt.ErrTokenInvalidAudience,
			tok: mustIssue(tb, mustIssuer(tb, key, token.IssuerConfig{Audience: "refunds"}), testSession())},
		{name: "missing sid", want: jwt.ErrTokenRequiredClaimMissing, tok: sign(tb, method, key, kid, noSID)},
	}
	return append(checkout, attacks(tb, target{
		key:    key,
		kid:    kid,
		claims: checkoutClaims,
		now:    admittedAt.Add(time.Minute),
	})...)
}

// checkoutClaims are the claims Issue signs for testSession, as a map the
// rejection cases can edit.
func checkoutClaims() jwt.MapClaims {
	s := testSession()
	return jwt.MapClaims{
		"iss": token.DefaultIssuer, "sub": s.UserID, "aud": []string{token.DefaultAudience},
		"exp": s.CheckoutDeadline.Unix(), "nbf": s.AdmittedAt.Unix(), "iat": s.AdmittedAt.Unix(),
		"jti": s.SessionID, "sid": s.SessionID, "event": s.EventID,
	}
}
