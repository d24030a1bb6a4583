package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// The signing algorithms a checkout token may use.
const (
	AlgEdDSA = "EdDSA" // Ed25519, the default
	AlgES256 = "ES256" // ECDSA on P-256
)

// AlgRS256 is RSA PKCS #1 v1.5 with SHA-256, which join tokens may use too:
// a ticketing site's existing key is often RSA.
const AlgRS256 = "RS256"

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// GenerateKey returns a new Ed25519 signing key.
func GenerateKey() (crypto.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	return priv, nil
}

// ParsePrivateKeyPEM reads an Ed25519 or ECDSA P-256 private key from PEM:
// PKCS#8 ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY", optionally after the "EC
// PARAMETERS" block that openssl ecparam writes first).
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, err := firstPEMBlock(data, "EC PARAMETERS")
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("token: PEM block is %q, want \"PRIVATE KEY\" or \"EC PRIVATE KEY\"", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("token: parse %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("token: unsupported private key type %T", key)
	}
	if _, err := algorithmOf(signer.Public()); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return signer, nil
}

// ParsePublicKeyPEM reads an Ed25519 or ECDSA P-256 public key from a PKIX
// ("PUBLIC KEY") PEM block. It returns an ed25519.PublicKey or *ecdsa.PublicKey.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, err := firstPEMBlock(data, "")
	if err != nil {
		return nil, err
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("token: PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token: parse PUBLIC KEY: %w", err)
	}
	if _, err := algorithmOf(key); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return key, nil
}

// ParsePublicKeysPEM reads every PKIX ("PUBLIC KEY") block in data, at least
// one: Ed25519, ECDSA P-256 or RSA of at least 2048 bits. Text around the
// blocks is ignored; a block of any other type is an error, so a private key
// put in a file of public keys by mistake is not passed over in silence.
func ParsePublicKeysPEM(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("token: PEM block %d is %q, want \"PUBLIC KEY\"", n, block.Type)
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("token: PEM block %d: parse PUBLIC KEY: %w", n, err)
		}
		if _, err := verifyAlgorithmOf(key); err != nil {
			return nil, fmt.Errorf("token: PEM block %d: %w", n, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("token: no PEM block found")
	}
	return keys, nil
}

// EncodePrivateKeyPEM writes a signing key as a PKCS#8 "PRIVATE KEY" PEM block,
// the form ParsePrivateKeyPEM reads.
func EncodePrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	if key == nil {
		return nil, errors.New("token: no key to encode")
	}
	if _, err := algorithmOf(key.Public()); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("token: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// firstPEMBlock returns the first PEM block in data, skipping blocks of type skip.
func firstPEMBlock(data []byte, skip string) (*pem.Block, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errors.New("token: no PEM block found")
		}
		if skip == "" || block.Type != skip {
			return block, nil
		}
		data = rest
	}
}

// algorithmOf returns the JWS algorithm for a public key, or an error naming
// why the key cannot sign checkout tokens. Its errors have no package prefix.
func algorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("Ed25519 public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return AlgEdDSA, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return "", errors.New("empty ECDSA key")
		}
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key on curve %s is not supported, want P-256", k.Curve.Params().Name)
		}
		return AlgES256, nil
	case *rsa.PublicKey:
		return "", errors.New("RSA keys are not supported, use Ed25519 or ECDSA P-256")
	case nil:
		return "", errors.New("no key")
	}
	return "", fmt.Errorf("unsupported key type %T, use Ed25519 or ECDSA P-256", pub)
}

// verifyAlgorithmOf returns the JWS algorithm for a key that may verify join
// tokens: one algorithmOf accepts, or RSA of at least minRSABits. Its errors
// have no package prefix.
func verifyAlgorithmOf(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey, nil:
		return algorithmOf(pub)
	case *rsa.PublicKey:
		switch {
		case k == nil || k.N == nil:
			return "", errors.New("empty RSA key")
		case k.N.BitLen() < minRSABits:
			return "", fmt.Errorf("RSA key of %d bits is too short, want at least %d", k.N.BitLen(), minRSABits)
		case k.E < 3 || k.E%2 == 0:
			return "", fmt.Errorf("RSA public exponent %d is not an odd number above 2", k.E)
		}
		return AlgRS256, nil
	}
	return "", fmt.Errorf("unsupported key type %T, use Ed25519, ECDSA P-256 or RSA", pub)
}
