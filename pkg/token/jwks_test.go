package token_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/token"
)

func jwksKeys(tb testing.TB, doc []byte) []map[string]any {
	tb.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		tb.Fatalf("JWKS %s: %v", doc, err)
	}
	return set.Keys
}

func TestJWKSShape(t *testing.T) {
	edKey, ecKey := mustEd25519(t), mustP256(t)
	iss := mustIssuer(t, edKey, token.IssuerConfig{ExtraPublicKeys: []crypto.PublicKey{ecKey.Public()}})
	keys := jwksKeys(t, iss.JWKS())
	if len(keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %v", len(keys), keys)
	}

	ed, ec := keys[0], keys[1]
	if got, want := sortedNames(ed), []string{"alg", "crv", "kid", "kty", "use", "x"}; !slices.Equal(got, want) {
		t.Errorf("OKP members = %v, want %v", got, want)
	}
	if ed["kty"] != "OKP" || ed["crv"] != "Ed25519" || ed["alg"] != "EdDSA" || ed["use"] != "sig" {
		t.Errorf("OKP key = %v", ed)
	}
	if x := b64(t, ed["x"]); !bytes.Equal(x, edKey.Public().(ed25519.PublicKey)) {
		t.Errorf("OKP x = %x, want the public key", x)
	}
	if ed["kid"] != iss.KeyID() || ed["kid"] != thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"`+ed["x"].(string)+`"}`) {
		t.Errorf("OKP kid = %v, want the RFC 7638 thumbprint %s", ed["kid"], iss.KeyID())
	}

	if got, want := sortedNames(ec), []string{"alg", "crv", "kid", "kty", "use", "x", "y"}; !slices.Equal(got, want) {
		t.Errorf("EC members = %v, want %v", got, want)
	}
	if ec["kty"] != "EC" || ec["crv"] != "P-256" || ec["alg"] != "ES256" || ec["use"] != "sig" {
		t.Errorf("EC key = %v", ec)
	}
	point, err := ecKey.Public().(*ecdsa.PublicKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if x, y := b64(t, ec["x"]), b64(t, ec["y"]); !bytes.Equal(x, point[1:33]) || !bytes.Equal(y, point[33:]) {
		t.Errorf("EC x, y = %x, %x, want the point's coordinates", x, y)
	}
	canonical := `{"crv":"P-256","kty":"EC","x":"` + ec["x"].(string) + `","y":"` + ec["y"].(string) + `"}`
	if ec["kid"] != thumbprint(canonical) {
		t.Errorf("EC kid = %v, want %s", ec["kid"], thumbprint(canonical))
	}
}

// RFC 8037 appendix A.1 to A.3: an Ed25519 key and its JWK thumbprint.
func TestKeyIDIsRFC7638Thumbprint(t *testing.T) {
	seed, err := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	if err != nil {
		t.Fatal(err)
	}
	iss := mustIssuer(t, ed25519.NewKeyFromSeed(seed), token.IssuerConfig{})
	if got, want := iss.KeyID(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
	if x := jwksKeys(t, iss.JWKS())[0]["x"]; x != "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" {
		t.Errorf("x = %v", x)
	}
}

func TestJWKSHandler(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{JWKSMaxAge: 90 * time.Second})
	h := iss.JWKSHandler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, token.JWKSPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=90" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if !bytes.Equal(rec.Body.Bytes(), iss.JWKS()) {
		t.Errorf("body = %s, want %s", rec.Body, iss.JWKS())
	}

	req := httptest.NewRequest(http.MethodGet, token.JWKSPath, nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET status = %d, want 304", rec.Code)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, token.JWKSPath, nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST status = %d, Allow = %q", rec.Code, rec.Header().Get("Allow"))
	}
}

// JWKS returns a copy: a caller cannot change what the handler serves.
func TestJWKSIsACopy(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	doc := iss.JWKS()
	clear(doc)
	jwksKeys(t, iss.JWKS())
}

func sortedNames(m map[string]any) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func b64(tb testing.TB, v any) []byte {
	tb.Helper()
	s, _ := v.(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("%q is not base64url: %v", v, err)
	}
	return b
}

func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
