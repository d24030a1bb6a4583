package token_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waitroom/waitroom/pkg/token"
)

// A checkout service verifies the checkout token a user brings from the
// waiting room. It needs only the waiting room's JWKS URL: no shared secret.
func ExampleVerifier() {
	// The waiting room's side, here in-process: an issuer and its JWKS endpoint.
	key, err := token.GenerateKey()
	if err != nil {
		panic(err)
	}
	issuer, err := token.NewIssuer(key, token.IssuerConfig{})
	if err != nil {
		panic(err)
	}
	defer issuer.Close()
	mux := http.NewServeMux()
	mux.Handle(token.JWKSPath, issuer.JWKSHandler())
	waitroom := httptest.NewServer(mux)
	defer waitroom.Close()

	admitted := time.Now()
	checkoutToken, err := issuer.Issue(token.Admission{
		SessionID:        "concert-1~0123456789abcdefghjkmnpqrs",
		UserID:           "user-42",
		EventID:          "concert-1",
		AdmittedAt:       admitted,
		CheckoutDeadline: admitted.Add(10 * time.Minute),
	})
	if err != nil {
		panic(err)
	}

	// The checkout service's side: one Verifier for the life of the process.
	verifier, err := token.NewVerifier(waitroom.URL+token.JWKSPath, token.VerifierConfig{})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(context.Background(), checkoutToken)
	switch {
	case errors.Is(err, token.ErrJWKSUnavailable):
		fmt.Println("503: cannot check tokens right now")
	case errors.Is(err, jwt.ErrTokenExpired):
		fmt.Println("401: checkout window closed")
	case err != nil:
		fmt.Println("401: invalid checkout token")
	default:
		fmt.Printf("checkout for %s at %s (session %s)\n", claims.Subject, claims.EventID, claims.SessionID)
	}

	// A token from anywhere else is refused.
	_, err = verifier.Verify(context.Background(), checkoutToken[:len(checkoutToken)-4]+"AAAA")
	fmt.Println(err != nil)
	// Output:
	// checkout for user-42 at concert-1 (session concert-1~0123456789abcdefghjkmnpqrs)
	// true
}

// The waiting room checks the join token a ticketing site signed for a
// logged-in visitor: here with the site's public key from a PEM file, as
// WAITROOM_JOIN_KEYS_FILE holds it.
func ExampleJoinVerifier() {
	// The ticketing site's side: an Ed25519 key pair, the public half
	// exported as PEM, and a token for visitor-7, good for five minutes.
	sitePublic, sitePrivate, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(sitePublic)
	if err != nil {
		panic(err)
	}
	keysFile := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	joinToken, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss":      "https://shop.example",
		"aud":      "waitroom",
		"sub":      "visitor-7",
		"event_id": "concert-1",
		"iat":      now.Unix(),
		"exp":      now.Add(5 * time.Minute).Unix(),
	}).SignedString(sitePrivate)
	if err != nil {
		panic(err)
	}

	// The waiting room's side: one JoinVerifier for the life of the process.
	keys, err := token.ParsePublicKeysPEM(keysFile)
	if err != nil {
		panic(err)
	}
	clock := now.Add(time.Minute)
	verifier, err := token.NewJoinVerifier(token.JoinVerifierConfig{
		Keys:   keys,
		Issuer: "https://shop.example",
		Now:    func() time.Time { return clock },
	})
	if err != nil {
		panic(err)
	}
	check := func() {
		claims, err := verifier.Verify(context.Background(), joinToken)
		var refused *token.JoinTokenError
		switch {
		case errors.As(err, &refused):
			fmt.Println("Unauthenticated:", refused)
		case err != nil:
			fmt.Println("Unavailable: cannot check join tokens right now")
		default:
			fmt.Printf("%s may join %s until %s\n", claims.Subject, claims.EventID, claims.ExpiresAt.UTC().Format(time.Kitchen))
		}
	}
	check()
	clock = now.Add(time.Hour)
	check()

	// A key the site never had is refused however the token is dressed up.
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "visitor-8"}).SignedString(stranger)
	_, err = verifier.Verify(context.Background(), forged)
	fmt.Println(err)
	// Output:
	// visitor-7 may join concert-1 until 12:05PM
	// Unauthenticated: invalid join token: expired
	// invalid join token: bad signature
}
