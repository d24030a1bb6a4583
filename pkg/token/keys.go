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
