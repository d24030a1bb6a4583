package token_test

import (
	"context"
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
