package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

// forgery is a token that neither SessionID nor Verify may accept. want, if
// set, is the jwt error Verify must wrap.
type forgery struct {
	name string
	tok  string
	want error
}

// forgeries builds bad tokens against an issuer made with the default issuer
// and audience from key.
func forgeries(tb testing.TB, key crypto.Signer) []forgery {
	tb.Helper()
	iss := mustIssuer(tb, key, token.IssuerConfig{})
	kid := iss.KeyID()
	method := jwt.GetSigningMethod(map[bool]string{true: token.AlgEdDSA, false: token.AlgES256}[isEd25519(key)])
	good := mustIssue(tb, iss, testSession())
	parts := strings.Split(good, ".")

	// The public key as bytes an attacker could pick as an HMAC secret.
	pkix, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	var pubRaw []byte
	switch k := key.Public().(type) {
	case ed25519.PublicKey:
		pubRaw = k
	case *ecdsa.PublicKey:
		pubRaw, _ = k.Bytes()
	}

	// Another key of the same algorithm, and one of the other algorithm, to sign
	// tokens that claim our kid.
	sameAlgKey, otherAlgMethod, otherAlgKey := any(mustEd25519(tb)), jwt.SigningMethod(jwt.SigningMethodES256), any(mustP256(tb))
	if !isEd25519(key) {
		sameAlgKey, otherAlgMethod, otherAlgKey = mustP256(tb), jwt.SigningMethodEdDSA, mustEd25519(tb)
	}

	tampered := validClaims()
	tampered.SessionID = "concert-1~zzzzzzzzzzzzzzzzzzzzzzzzzz"
	tampered.ID = tampered.SessionID
	noExp := validClaims()
	noExp.ExpiresAt = nil
	noSID := validClaims()
	noSID.SessionID = ""
	flipped := []byte(parts[2])
	flipped[3] ^= 'A' ^ 'B'

	stranger := mustEd25519(tb)
	strangerIss := mustIssuer(tb, stranger, token.IssuerConfig{})

	return []forgery{
		{name: "empty", tok: ""},
		{name: "garbage", tok: "not-a-token", want: jwt.ErrTokenMalformed},
		{name: "many dots", tok: strings.Repeat(".", token.MaxTokenLen), want: jwt.ErrTokenMalformed},
		{name: "over-long", tok: strings.Repeat("a", 1<<20) + ".b.c", want: jwt.ErrTokenMalformed},
		{name: "two parts", tok: parts[0] + "." + parts[1], want: jwt.ErrTokenMalformed},
		{name: "tampered payload", tok: parts[0] + "." + encodeSegment(tb, tampered) + "." + parts[2],
			want: jwt.ErrTokenSignatureInvalid},
		{name: "flipped signature", tok: parts[0] + "." + parts[1] + "." + string(flipped)},
		{name: "no signature", tok: parts[0] + "." + parts[1] + "."},
		{name: "alg none", want: jwt.ErrTokenSignatureInvalid,
			tok: encodeSegment(tb, map[string]string{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + "."},
		{name: "HS256 keyed with raw public key", want: jwt.ErrTokenSignatureInvalid,
			tok: sign(tb, jwt.SigningMethodHS256, pubRaw, kid, validClaims())},
		{name: "HS256 keyed with public key PEM", want: jwt.ErrTokenSignatureInvalid,
			tok: sign(tb, jwt.SigningMethodHS256, pubPEM, kid, validClaims())},
		{name: "other alg claiming our kid", want: jwt.ErrTokenUnverifiable,
			tok: sign(tb, otherAlgMethod, otherAlgKey, kid, validClaims())},
		{name: "other key claiming our kid", want: jwt.ErrTokenSignatureInvalid,
			tok: sign(tb, method, sameAlgKey, kid, validClaims())},
		{name: "unknown key", want: jwt.ErrTokenUnverifiable, tok: mustIssue(tb, strangerIss, testSession())},
		{name: "no kid", want: jwt.ErrTokenUnverifiable, tok: sign(tb, method, key, "", validClaims())},
		{name: "wrong issuer", want: jwt.ErrTokenInvalidIssuer,
			tok: mustIssue(tb, mustIssuer(tb, key, token.IssuerConfig{Issuer: "elsewhere"}), testSession())},
		{name: "wrong audience", want: jwt.ErrTokenInvalidAudience,
			tok: mustIssue(tb, mustIssuer(tb, key, token.IssuerConfig{Audience: "refunds"}), testSession())},
		{name: "missing exp", want: jwt.ErrTokenRequiredClaimMissing, tok: sign(tb, method, key, kid, noExp)},
		{name: "missing sid", want: jwt.ErrTokenRequiredClaimMissing, tok: sign(tb, method, key, kid, noSID)},
	}
}

func isEd25519(key crypto.Signer) bool {
	_, ok := key.Public().(ed25519.PublicKey)
	return ok
}
