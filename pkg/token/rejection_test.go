package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

// forgery is a token a verifier must refuse. want, if set, is the jwt error
// the checkout Verifier wraps; reason, if set, is the JoinTokenError's reason.
// timing marks a token refused only for its times, which Issuer.SessionID
// accepts by design (an expired checkout token still names its session).
type forgery struct {
	name   string
	tok    string
	want   error
	reason string
	timing bool
}

// target is a verifier as the rejection cases attack it.
type target struct {
	key    crypto.Signer        // the genuine signing key
	kid    string               // the kid the verifier knows it by
	claims func() jwt.MapClaims // claims the verifier accepts, fresh on each call
	now    time.Time            // the verifier's clock
}

// attacks builds the tokens every verifier must refuse, whatever it verifies:
// forged algorithms and keys, tampered or out-of-policy claims, keys offered
// in the header and oversized junk. Tokens with headers that point at a key
// URL point at a server that fails the test if anything fetches from it.
func attacks(tb testing.TB, tg target) []forgery {
	tb.Helper()
	method := methodOf(tg.key)
	good := sign(tb, method, tg.key, tg.kid, tg.claims())
	parts := strings.Split(good, ".")
	keyURL := mustUntouchableURL(tb)

	// The public key as bytes an attacker could pick as an HMAC secret: raw,
	// PEM, and the JWK a JWKS publishes.
	pub := tg.key.Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	var pubRaw []byte
	switch k := pub.(type) {
	case ed25519.PublicKey:
		pubRaw = k
	case *ecdsa.PublicKey:
		pubRaw, _ = k.Bytes()
	case *rsa.PublicKey:
		pubRaw = k.N.Bytes()
	}
	pubJWK, err := json.Marshal(publicJWK(tb, pub, tg.kid))
	if err != nil {
		tb.Fatal(err)
	}

	// Another key of the same algorithm, and one of another algorithm, to
	// sign tokens that claim our kid.
	sameAlgKey, otherAlgKey := otherKeys(tb, tg.key)
	attacker := mustEd25519(tb)
	attackerKid := thumbprintOf(tb, attacker.Public())

	edit := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := tg.claims()
		change(c)
		return c
	}
	unix := func(d time.Duration) int64 { return tg.now.Add(d).Unix() }
	genuine := func(c jwt.MapClaims) string { return sign(tb, method, tg.key, tg.kid, c) }
	withHeader := func(key crypto.Signer, kid string, extra map[string]any) string {
		return signWithHeader(tb, methodOf(key), key, kid, extra, tg.claims())
	}
	unsigned := func(alg string) string {
		return encodeSegment(tb, map[string]string{"alg": alg, "typ": "JWT", "kid": tg.kid}) + "." + parts[1] + "."
	}
	const (
		algNotAllowed = "algorithm not allowed"
		keyInHeader   = "key in header not accepted"
	)

	return []forgery{
		{name: "alg none", tok: unsigned("none"), want: jwt.ErrTokenSignatureInvalid, reason: algNotAllowed},
		{name: "alg None", tok: unsigned("None"), want: jwt.ErrTokenUnverifiable, reason: algNotAllowed},
		{name: "alg NONE", tok: unsigned("NONE"), want: jwt.ErrTokenUnverifiable, reason: algNotAllowed},
		{name: "HS256 keyed with the raw public key", want: jwt.ErrTokenSignatureInvalid, reason: algNotAllowed,
			tok: sign(tb, jwt.SigningMethodHS256, pubRaw, tg.kid, tg.claims())},
		{name: "HS256 keyed with the public key PEM", want: jwt.ErrTokenSignatureInvalid, reason: algNotAllowed,
			tok: sign(tb, jwt.SigningMethodHS256, pubPEM, tg.kid, tg.claims())},
		{name: "HS256 keyed with the public JWK", want: jwt.ErrTokenSignatureInvalid, reason: algNotAllowed,
			tok: sign(tb, jwt.SigningMethodHS256, pubJWK, tg.kid, tg.claims())},
		{name: "other alg claiming our kid", want: jwt.ErrTokenUnverifiable, reason: "algorithm does not match the key",
			tok: sign(tb, methodOf(otherAlgKey), otherAlgKey, tg.kid, tg.claims())},
		{name: "other key claiming our kid", want: jwt.ErrTokenSignatureInvalid, reason: "bad signature",
			tok: sign(tb, method, sameAlgKey, tg.kid, tg.claims())},
		{name: "unknown kid", want: jwt.ErrTokenUnverifiable, reason: "unknown key",
			tok: sign(tb, jwt.SigningMethodEdDSA, attacker, attackerKid, tg.claims())},
		{name: "tampered payload", want: jwt.ErrTokenSignatureInvalid, reason: "bad signature",
			tok: parts[0] + "." + encodeSegment(tb, edit(func(c jwt.MapClaims) { c["sub"] = "someone-else" })) + "." + parts[2]},
		{name: "expired", want: jwt.ErrTokenExpired, reason: "expired", timing: true,
			tok: genuine(edit(func(c jwt.MapClaims) {
				c["iat"], c["exp"] = unix(-10*time.Minute), unix(-5*time.Minute)
				if _, ok := c["nbf"]; ok {
					c["nbf"] = c["iat"]
				}
			}))},
		{name: "nbf in the future", want: jwt.ErrTokenNotValidYet, reason: "not valid yet", timing: true,
			tok: genuine(edit(func(c jwt.MapClaims) { c["nbf"] = unix(5 * time.Minute) }))},
		{name: "iat in the future", want: jwt.ErrTokenUsedBeforeIssued, reason: "not valid yet", timing: true,
			tok: genuine(edit(func(c jwt.MapClaims) { c["iat"] = unix(5 * time.Minute) }))},
		{name: "missing exp", want: jwt.ErrTokenRequiredClaimMissing, reason: "missing exp",
			tok: genuine(edit(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{name: "exp written as a string", want: jwt.ErrTokenMalformed, reason: "malformed",
			tok: genuine(edit(func(c jwt.MapClaims) { c["exp"] = "9999999999" }))},
		{name: "wrong iss", want: jwt.ErrTokenInvalidIssuer, reason: "wrong issuer",
			tok: genuine(edit(func(c jwt.MapClaims) { c["iss"] = "https://elsewhere.example" }))},
		{name: "missing iss", want: jwt.ErrTokenRequiredClaimMissing, reason: "wrong issuer",
			tok: genuine(edit(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{name: "wrong aud", want: jwt.ErrTokenInvalidAudience, reason: "wrong audience",
			tok: genuine(edit(func(c jwt.MapClaims) { c["aud"] = []string{"refunds"} }))},
		{name: "empty sub", want: jwt.ErrTokenRequiredClaimMissing, reason: "missing sub",
			tok: genuine(edit(func(c jwt.MapClaims) { c["sub"] = "" }))},
		{name: "missing sub", want: jwt.ErrTokenRequiredClaimMissing, reason: "missing sub",
			tok: genuine(edit(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{name: "embedded jwk of the attacker's key", want: jwt.ErrTokenUnverifiable, reason: keyInHeader,
			tok: withHeader(attacker, attackerKid, map[string]any{"jwk": publicJWK(tb, attacker.Public(), attackerKid)})},
		{name: "embedded jwk under our kid", want: jwt.ErrTokenUnverifiable, reason: keyInHeader,
			tok: withHeader(attacker, tg.kid, map[string]any{"jwk": publicJWK(tb, attacker.Public(), "")})},
		{name: "jku pointing at the attacker", want: jwt.ErrTokenUnverifiable, reason: keyInHeader,
			tok: withHeader(attacker, attackerKid, map[string]any{"jku": keyURL})},
		{name: "x5u pointing at the attacker", want: jwt.ErrTokenUnverifiable, reason: keyInHeader,
			tok: withHeader(attacker, attackerKid, map[string]any{"x5u": keyURL})},
		{name: "x5c with the attacker's certificate", want: jwt.ErrTokenUnverifiable, reason: keyInHeader,
			tok: withHeader(attacker, attackerKid, map[string]any{"x5c": []string{selfSignedCert(tb, attacker)}})},
		{name: "jku on a genuine token", want: jwt.ErrTokenUnverifiable, reason: keyInHeader,
			tok: withHeader(tg.key, tg.kid, map[string]any{"jku": keyURL})},
		{name: "critical extension on a genuine token", want: jwt.ErrTokenUnverifiable, reason: "critical header not understood",
			tok: withHeader(tg.key, tg.kid, map[string]any{"crit": []string{"exp"}})},
		{name: "many dots", want: jwt.ErrTokenMalformed, reason: "malformed", tok: strings.Repeat(".", token.MaxTokenLen)},
		{name: "more dots than MaxTokenLen", want: jwt.ErrTokenMalformed, reason: "too long",
			tok: strings.Repeat(".", 1<<20)},
		{name: "genuine token over MaxTokenLen", want: jwt.ErrTokenMalformed, reason: "too long",
			tok: genuine(edit(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("a", token.MaxTokenLen) }))},
	}
}

// methodOf is the signing method of a key.
func methodOf(key crypto.Signer) jwt.SigningMethod {
	switch key.Public().(type) {
	case ed25519.PublicKey:
		return jwt.SigningMethodEdDSA
	case *ecdsa.PublicKey:
		return jwt.SigningMethodES256
	}
	return jwt.SigningMethodRS256
}

// otherKeys returns a new key of key's algorithm and one of another.
func otherKeys(tb testing.TB, key crypto.Signer) (sameAlg, otherAlg crypto.Signer) {
	tb.Helper()
	switch key.Public().(type) {
	case ed25519.PublicKey:
		return mustEd25519(tb), mustP256(tb)
	case *ecdsa.PublicKey:
		return mustP256(tb), mustEd25519(tb)
	}
	return mustRSA(tb, 1), mustEd25519(tb)
}

// rsaKeys are generated once: a 2048-bit key takes a while, under -race most.
var rsaKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, 2)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
})

// mustRSA returns the i'th (0 or 1) shared 2048-bit RSA key.
func mustRSA(tb testing.TB, i int) crypto.Signer {
	tb.Helper()
	keys, err := rsaKeys()
	if err != nil {
		tb.Fatal(err)
	}
	return keys[i]
}

// signWithHeader signs claims with extra header parameters.
func signWithHeader(tb testing.TB, method jwt.SigningMethod, key any, kid string, extra map[string]any, claims jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	for name, v := range extra {
		t.Header[name] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// publicJWK is the JWK of a public key, written here rather than by the
// package so the tests check its thumbprints independently. An empty kid is
// left out.
func publicJWK(tb testing.TB, pub crypto.PublicKey, kid string) map[string]string {
	tb.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	var j map[string]string
	switch k := pub.(type) {
	case ed25519.PublicKey:
		j = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc(k)}
	case *ecdsa.PublicKey:
		point, err := k.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		j = map[string]string{"kty": "EC", "crv": "P-256", "x": enc(point[1:33]), "y": enc(point[33:])}
	case *rsa.PublicKey:
		j = map[string]string{"kty": "RSA", "n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}
	default:
		tb.Fatalf("no JWK for %T", pub)
	}
	if kid != "" {
		j["kid"] = kid
	}
	return j
}

// thumbprintOf is the RFC 7638 thumbprint of a public key.
func thumbprintOf(tb testing.TB, pub crypto.PublicKey) string {
	tb.Helper()
	j := publicJWK(tb, pub, "")
	switch j["kty"] {
	case "OKP":
		return thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"` + j["x"] + `"}`)
	case "EC":
		return thumbprint(`{"crv":"P-256","kty":"EC","x":"` + j["x"] + `","y":"` + j["y"] + `"}`)
	}
	return thumbprint(`{"e":"` + j["e"] + `","kty":"RSA","n":"` + j["n"] + `"}`)
}

// selfSignedCert is a certificate for key, signed by key, as base64 DER the
// way an x5c header carries it.
func selfSignedCert(tb testing.TB, key crypto.Signer) string {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "shop.example"},
		NotBefore:    admittedAt.Add(-time.Hour),
		NotAfter:     admittedAt.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// mustUntouchableURL is an attacker's key URL: the test fails if anything
// requests it before the test ends.
func mustUntouchableURL(tb testing.TB) string {
	tb.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	tb.Cleanup(func() {
		srv.Close()
		if n := hits.Load(); n != 0 {
			tb.Errorf("the attacker's key URL was fetched %d times", n)
		}
	})
	return srv.URL + "/keys.json"
}

// floodUnknownKids verifies n tokens of n different unknown kids from a few
// goroutines, failing if any is accepted.
func floodUnknownKids(tb testing.TB, n int, claims jwt.MapClaims, verify func(tok string) error) {
	tb.Helper()
	stranger := mustEd25519(tb)
	toks := make(chan string, n)
	for i := range n {
		toks <- sign(tb, jwt.SigningMethodEdDSA, stranger, "junk-"+strconv.Itoa(i), claims)
	}
	close(toks)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for tok := range toks {
				if err := verify(tok); err == nil {
					tb.Error("accepted a token of an unknown kid")
					return
				}
			}
		})
	}
	wg.Wait()
}
