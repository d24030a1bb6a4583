package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/waitroom/waitroom/pkg/token"
)

type equaler interface{ Equal(crypto.PublicKey) bool }

func TestPrivateKeyPEMRoundTrip(t *testing.T) {
	for _, kind := range keyKinds {
		key := kind.gen(t)
		data, err := token.EncodePrivateKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----") {
			t.Errorf("%s: PEM = %s", kind.alg, data)
		}
		back, err := token.ParsePrivateKeyPEM(data)
		if err != nil {
			t.Fatalf("%s: %v", kind.alg, err)
		}
		if !back.Public().(equaler).Equal(key.Public()) {
			t.Errorf("%s: parsed key differs", kind.alg)
		}
	}
}

// openssl ecparam -genkey writes an "EC PARAMETERS" block, then the SEC 1 key.
func TestParseSEC1PrivateKeyPEM(t *testing.T) {
	key := mustP256(t).(*ecdsa.PrivateKey)
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	data := append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
	back, err := token.ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Public().(equaler).Equal(key.Public()) {
		t.Error("parsed key differs")
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	for _, kind := range keyKinds {
		key := kind.gen(t)
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		pub, err := token.ParsePublicKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if err != nil {
			t.Fatalf("%s: %v", kind.alg, err)
		}
		if !pub.(equaler).Equal(key.Public()) {
			t.Errorf("%s: parsed key differs", kind.alg)
		}
	}
}

func TestParseKeyPEMErrors(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	pkix := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	edPriv := pkcs8(mustEd25519(t))

	for _, c := range []struct {
		name  string
		parse func([]byte) (any, error)
		data  []byte
		want  string
	}{
		{"private: not PEM", parsePrivate, []byte("hello"), "no PEM block"},
		{"private: RSA", parsePrivate, pkcs8(rsaKey), "RSA keys are not supported"},
		{"private: P-384", parsePrivate, pkcs8(p384), "P-384 is not supported"},
		{"private: public key block", parsePrivate, pkix(mustEd25519(t).Public()), `PEM block is "PUBLIC KEY"`},
		{"private: corrupt", parsePrivate, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "parse PRIVATE KEY"},
		{"public: not PEM", parsePublic, nil, "no PEM block"},
		{"public: private key block", parsePublic, edPriv, `PEM block is "PRIVATE KEY"`},
		{"public: RSA", parsePublic, pkix(rsaKey.Public()), "RSA keys are not supported"},
		{"public: P-384", parsePublic, pkix(p384.Public()), "P-384 is not supported"},
	} {
		if _, err := c.parse(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want one containing %q", c.name, err, c.want)
		}
	}

	if _, err := token.EncodePrivateKeyPEM(rsaKey); err == nil || !strings.Contains(err.Error(), "RSA") {
		t.Errorf("EncodePrivateKeyPEM(RSA) error = %v", err)
	}
}

func parsePrivate(b []byte) (any, error) { return token.ParsePrivateKeyPEM(b) }
func parsePublic(b []byte) (any, error)  { return token.ParsePublicKeyPEM(b) }

func TestParsePublicKeysPEM(t *testing.T) {
	want := []crypto.PublicKey{mustEd25519(t).Public(), mustP256(t).Public(), mustRSA(t, 0).Public()}
	var file []byte
	for i, pub := range want {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		file = append(file, fmt.Sprintf("# key %d, with a comment around it\n", i)...)
		file = append(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	got, err := token.ParsePublicKeysPEM(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].(equaler).Equal(want[i]) {
			t.Errorf("key %d differs", i)
		}
	}
}

func TestParsePublicKeysPEMErrors(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkix := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	good := pkix(mustEd25519(t).Public())
	private, err := token.EncodePrivateKeyPEM(mustEd25519(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM block"},
		{"not PEM", []byte("ssh-ed25519 AAAA"), "no PEM block"},
		{"a private key after a public one", append(good, private...), `PEM block 2 is "PRIVATE KEY"`},
		{"short RSA", append(good, pkix(weak.Public())...), "PEM block 2: RSA key of 1024 bits is too short"},
		{"P-384", pkix(p384.Public()), "PEM block 1: ECDSA key on curve P-384"},
		{"corrupt", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), "PEM block 1: parse PUBLIC KEY"},
	} {
		if keys, err := token.ParsePublicKeysPEM(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ParsePublicKeysPEM = %d keys, %v; want an error containing %q", c.name, len(keys), err, c.want)
		}
	}
}
