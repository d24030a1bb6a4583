package token

import (
	"encoding/json"
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

// UnmarshalJSON decodes the claims, refusing times written as strings.
func (c *Claims) UnmarshalJSON(data []byte) error {
	if err := requireNumericDates(data); err != nil {
		return err
	}
	type plain Claims // without this method
	return json.Unmarshal(data, (*plain)(c))
}

// requireNumericDates refuses exp, nbf or iat written as a JSON string. RFC
// 7519 makes them numbers, but jwt's NumericDate also reads "1700000000", so
// without this a token could state its times in a form its issuer never writes.
func requireNumericDates(data []byte) error {
	var times struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(data, &times); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		raw  json.RawMessage
	}{{"exp", times.Exp}, {"nbf", times.Nbf}, {"iat", times.Iat}} {
		if len(t.raw) > 0 && t.raw[0] == '"' {
			return fmt.Errorf("%s is a string, not a number", t.name)
		}
	}
	return nil
}
