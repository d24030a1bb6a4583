// Package token issues and verifies checkout tokens: JWTs signed with an
// asymmetric key (EdDSA by default, or ES256) whose public keys are published
// as a JWKS, so a checkout service verifies them without a shared secret.
//
// The waiting room uses [Issuer], which signs tokens and serves the JWKS.
// Checkout services use [Verifier] and [Claims]; those two are the package's
// public promise. The package imports nothing of the waiting room, so a
// checkout service can depend on it alone.
package token
