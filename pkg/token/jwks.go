package token

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"
)

// JWKSPath is where the waiting room serves its public keys.
const JWKSPath = "/.well-known/jwks.json"

// jwk is one JSON Web Key (RFC 7517): an Ed25519 key as OKP (RFC 8037), a
// P-256 key as EC or an RSA key as RSA (RFC 7518).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// publicKey is a verification key with its key id and the one algorithm it
// may verify: pinning the algorithm to the key stops a token from choosing it.
type publicKey struct {
	kid string
	alg string
	key crypto.PublicKey
}

var b64 = base64.RawURLEncoding

// encodeJWK returns the JWK of a key that may sign checkout tokens, its kid
// set to the RFC 7638 thumbprint so every replica holding the key names it the
// same way. Its errors have no package prefix.
func encodeJWK(pub crypto.PublicKey) (jwk, error) {
	alg, err := algorithmOf(pub)
	if err != nil {
		return jwk{}, err
	}
	return publicJWK(pub, alg)
}

// publicJWK returns the JWK of a public key whose algorithm alg has been
// checked, with its thumbprint as kid.
func publicJWK(pub crypto.PublicKey, alg string) (jwk, error) {
	var j jwk
	switch k := pub.(type) {
	case ed25519.PublicKey:
		j = jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k)}
	case *ecdsa.PublicKey:
		point, err := k.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
		if err != nil {
			return jwk{}, fmt.Errorf("encode ECDSA key: %w", err)
		}
		j = jwk{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(point[1:33]), Y: b64.EncodeToString(point[33:])}
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes() // big-endian without leading zeros, as RFC 7518 asks
		j = jwk{Kty: "RSA", N: b64.EncodeToString(k.N.Bytes()), E: b64.EncodeToString(e)}
	default:
		return jwk{}, fmt.Errorf("unsupported key type %T", pub)
	}
	j.Kid = thumbprint(j)
	j.Alg = alg
	j.Use = "sig"
	return j, nil
}

// thumbprint is the RFC 7638 thumbprint of a JWK: SHA-256 over its required
// members in lexicographic order without whitespace. The values are base64url
// and fixed curve names, so nothing needs escaping.
func thumbprint(j jwk) string {
	var canonical string
	switch j.Kty {
	case "EC":
		canonical = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "RSA":
		canonical = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	default:
		canonical = `{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// decodeJWK reads a verification key from a JWK. The key's algorithm follows
// from its type and curve; an "alg" member that disagrees is an error.
func decodeJWK(j jwk) (publicKey, error) {
	if j.Kid == "" {
		return publicKey{}, errors.New("key has no kid")
	}
	if j.Use != "" && j.Use != "sig" {
		return publicKey{}, fmt.Errorf("key %q is for %q, not signatures", j.Kid, j.Use)
	}
	var pk publicKey
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		x, err := b64.Strict().DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return publicKey{}, fmt.Errorf("key %q: bad Ed25519 x", j.Kid)
		}
		pk = publicKey{alg: AlgEdDSA, key: ed25519.PublicKey(x)}
	case j.Kty == "EC" && j.Crv == "P-256":
		x, errX := b64.Strict().DecodeString(j.X)
		y, errY := b64.Strict().DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return publicKey{}, fmt.Errorf("key %q: bad P-256 x or y", j.Kid)
		}
		key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return publicKey{}, fmt.Errorf("key %q: %w", j.Kid, err)
		}
		pk = publicKey{alg: AlgES256, key: key}
	case j.Kty == "RSA":
		key, err := decodeRSA(j)
		if err != nil {
			return publicKey{}, err
		}
		pk = publicKey{alg: AlgRS256, key: key}
	default:
		return publicKey{}, fmt.Errorf("key %q: unsupported kty %q crv %q", j.Kid, j.Kty, j.Crv)
	}
	if j.Alg != "" && j.Alg != pk.alg {
		return publicKey{}, fmt.Errorf("key %q: alg %q does not match its key type", j.Kid, j.Alg)
	}
	pk.kid = j.Kid
	return pk, nil
}

// decodeRSA reads an RSA key of at least minRSABits from a JWK.
func decodeRSA(j jwk) (*rsa.PublicKey, error) {
	n, errN := b64.Strict().DecodeString(j.N)
	e, errE := b64.Strict().DecodeString(j.E)
	if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("key %q: bad RSA n or e", j.Kid)
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if _, err := verifyAlgorithmOf(key); err != nil {
		return nil, fmt.Errorf("key %q: %w", j.Kid, err)
	}
	return key, nil
}

// parseJWKS reads the keys of a JWKS usable with one of algs, by kid. Keys it
// cannot use (another key type or algorithm, another use) are skipped, so a
// set shared with other issuers still works; a set with no usable key is an
// error.
func parseJWKS(data []byte, algs []string) (map[string]publicKey, error) {
	var set jwkSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	keys := make(map[string]publicKey, len(set.Keys))
	var firstErr error
	for _, j := range set.Keys {
		pk, err := decodeJWK(j)
		if err == nil && !slices.Contains(algs, pk.alg) {
			err = fmt.Errorf("key %q: alg %s is not accepted here", pk.kid, pk.alg)
		}
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if _, dup := keys[pk.kid]; !dup {
			keys[pk.kid] = pk
		}
	}
	if len(keys) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("JWKS has no usable key: %w", firstErr)
		}
		return nil, errors.New("JWKS has no keys")
	}
	return keys, nil
}

// JWKS returns the issuer's public keys as a JWKS document: the signing key
// first, then the extra verification keys.
func (i *Issuer) JWKS() []byte { return bytes.Clone(i.jwks) }

// JWKSHandler serves JWKS; mount it at JWKSPath. Caches may keep the document
// for IssuerConfig.JWKSMaxAge, so publish a new key at least that long before
// signing with it, or rely on verifiers refetching when they meet its kid.
func (i *Issuer) JWKSHandler() http.Handler {
	cacheControl := fmt.Sprintf("public, max-age=%d", int(i.jwksMaxAge/time.Second))
	sum := sha256.Sum256(i.jwks)
	etag := `"` + b64.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", etag) // lets ServeContent answer If-None-Match with 304
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(i.jwks))
	})
}
