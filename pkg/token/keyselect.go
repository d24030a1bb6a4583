package token

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Why a token's header names no key this package will verify it with.
var (
	errNoKid        = errors.New("token has no kid")
	errAlgMismatch  = errors.New("alg does not match the key")
	errHeaderKey    = errors.New("header carries a key or a key URL")
	errCritical     = errors.New("header has critical extensions")
	errNoKeyForAlg  = errors.New("no key for the token's alg")
	errKidNotString = errors.New("kid is not a string")
)

// keyHeaders are JOSE header parameters that hand the verifier a key, or
// where to fetch one (RFC 7515 section 4.1). A token that could name its own
// key would vouch for itself, so such a token is refused outright rather than
// the parameter ignored: no issuer of ours writes them.
var keyHeaders = []string{"jwk", "jku", "x5u", "x5c"}

// checkHeader refuses a header that offers a key of its own, or lists
// critical extensions, none of which this package understands (RFC 7515
// section 4.1.11 says to refuse such a token).
func checkHeader(h map[string]any) error {
	for _, name := range keyHeaders {
		if _, ok := h[name]; ok {
			return fmt.Errorf("%w: %s", errHeaderKey, name)
		}
	}
	if _, ok := h["crit"]; ok {
		return errCritical
	}
	return nil
}

// kidOf returns the token's kid header, "" if it has none.
func kidOf(t *jwt.Token) (string, error) {
	v, ok := t.Header["kid"]
	if !ok {
		return "", nil
	}
	kid, ok := v.(string)
	if !ok {
		return "", errKidNotString
	}
	return kid, nil
}

// pickKey returns the key named by the token's kid header, refusing a token
// whose alg is not the key's own or whose header offers a key.
func pickKey(t *jwt.Token, lookup func(kid string) (publicKey, error)) (any, error) {
	if err := checkHeader(t.Header); err != nil {
		return nil, err
	}
	kid, err := kidOf(t)
	if err != nil {
		return nil, err
	}
	if kid == "" {
		return nil, errNoKid
	}
	k, err := lookup(kid)
	if err != nil {
		return nil, err
	}
	return pinAlg(t, k)
}

// pinAlg returns k's key if the token's alg is k's own.
func pinAlg(t *jwt.Token, k publicKey) (any, error) {
	if t.Method.Alg() != k.alg {
		return nil, fmt.Errorf("%w: alg %s, key %q is %s", errAlgMismatch, t.Method.Alg(), k.kid, k.alg)
	}
	return k.key, nil
}
