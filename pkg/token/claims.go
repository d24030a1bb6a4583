package token

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a checkout token. Subject is the user id, ID (jti)
// the session id, IssuedAt and NotBefore the admission time, ExpiresAt the
// checkout deadline.
type Claims struct {
	jwt.RegisteredClaims
	// SessionID is the admitted waiting-room session.
	SessionID string `json:"sid"`
	// EventID is the event the session was admitted to.
	EventID string `json:"event"`
}

// Validate is called by the jwt parser after its own claim checks: a token
// without these claims names nothing a checkout can act on.
func (c *Claims) Validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"sid", c.SessionID}, {"event", c.EventID}, {"sub", c.Subject},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%w: %s", jwt.ErrTokenRequiredClaimMissing, f.name))
		}
	}
	return errors.Join(errs...)
}
