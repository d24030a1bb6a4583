package token_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/token"
)

// Zero configs work together: the issuer and the verifier agree on the
// default issuer and audience, the verifier fetches with a client of its own
// and checks times on the real clock, and the JWKS is cached for the default
// max-age.
func TestZeroConfigs(t *testing.T) {
	iss := mustIssuer(t, mustEd25519(t), token.IssuerConfig{})
	srv := newJWKSServer(t, iss)
	v, err := token.NewVerifier(srv.URL, token.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a := testSession()
	a.AdmittedAt = time.Now()
	a.CheckoutDeadline = a.AdmittedAt.Add(time.Minute)
	c, err := v.Verify(t.Context(), mustIssue(t, iss, a))
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionID != a.SessionID || c.Issuer != token.DefaultIssuer ||
		len(c.Audience) != 1 || c.Audience[0] != token.DefaultAudience {
		t.Errorf("claims = %+v", c)
	}

	rec := httptest.NewRecorder()
	iss.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, token.JWKSPath, nil))
	want := fmt.Sprintf("public, max-age=%d", int(token.DefaultJWKSMaxAge/time.Second))
	if cc := rec.Header().Get("Cache-Control"); cc != want {
		t.Errorf("Cache-Control = %q, want %q", cc, want)
	}
}
