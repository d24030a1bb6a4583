// Package token issues and verifies the waiting room's JWTs.
//
// Checkout tokens are signed with an asymmetric key (EdDSA by default, or
// ES256) whose public keys are published as a JWKS, so a checkout service
// verifies them without a shared secret. The waiting room uses [Issuer], which
// signs tokens and serves the JWKS. Checkout services use [Verifier] and
// [Claims]; those two are the package's public promise.
//
// Join tokens go the other way: a ticketing site signs one for a logged-in
// visitor, and the waiting room checks it with a [JoinVerifier] before letting
// that visitor join a queue.
//
// Every verifier pins the algorithm to the key (no "none", no HMAC keyed with
// a public key) and refuses a token whose header offers a key of its own.
// The package imports nothing of the waiting room, so a checkout service can
// depend on it alone.
package token
