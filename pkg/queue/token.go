package queue

// TokenIssuer signs checkout tokens and reads them back. The token package
// implements it with JWTs.
type TokenIssuer interface {
	// Issue returns the checkout token for an admitted session, valid until its
	// CheckoutDeadline. Issuing twice for the same session may return the same
	// token or another valid one.
	Issue(s Session) (string, error)
	// SessionID verifies a token this issuer signed and returns its session id.
	// A token whose expiry has passed still names its session (so completing
	// with it can say "session expired"); a forged or malformed token gives an
	// *InvalidArgumentError for field checkout_token.
	SessionID(token string) (string, error)
}
