package server_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
	"github.com/waitroom/waitroom/pkg/token"
)

const (
	shopIssuer   = "https://shop.example"
	serviceToken = "backend-secret-0123456789abcdef"
)

// shop signs join tokens as a ticketing site would for its logged-in visitors.
type shop struct {
	t   testing.TB
	key ed25519.PrivateKey
}

func newShop(t testing.TB) *shop {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &shop{t: t, key: key}
}

// token is a join token for user; extra claims are added or override.
func (s *shop) token(user string, extra jwt.MapClaims) string {
	s.t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"iss": shopIssuer, "aud": "waitroom", "sub": user,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(s.key)
	if err != nil {
		s.t.Fatal(err)
	}
	return raw
}

// tokenMode is a server configuration in token mode that trusts the shop's
// key and one backend.
func (s *shop) tokenMode(cfg server.Config) server.Config {
	cfg.JoinAuth = server.JoinAuthConfig{
		Token:         true,
		ServiceTokens: []string{serviceToken},
		JoinTokens:    token.JoinVerifierConfig{Keys: []crypto.PublicKey{s.key.Public()}, Issuer: shopIssuer},
	}
	return cfg
}

// joinAs calls JoinQueue with bearer (none when empty).
func joinAs(c waitroomv1connect.WaitroomServiceClient, bearer, user, event string) (*waitroomv1.JoinQueueResponse, error) {
	req := connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: event})
	if bearer != "" {
		req.Header().Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.JoinQueue(context.Background(), req)
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// wantRefused checks err's code and message, and that the message does not
// give the credential back.
func wantRefused(t testing.TB, what string, err error, code connect.Code, msg, credential string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != code || ce.Message() != msg {
		t.Fatalf("%s: %v, want %v %q", what, err, code, msg)
	}
	if credential != "" && strings.Contains(err.Error(), credential) {
		t.Fatalf("%s: the error quotes the credential", what)
	}
}

func TestJoinAuthTokenModeRefusals(t *testing.T) {
	s := newShop(t)
	ts := startServer(t, s.tokenMode(server.Config{}))
	c := ts.Client()

	_, err := joinAs(c, "", "alice", "gig")
	wantRefused(t, "no token", err, connect.CodeUnauthenticated, "join token required", "")

	alice := s.token("alice", nil)
	first, err := joinAs(c, alice, "", "gig")
	if err != nil {
		t.Fatalf("join with a valid token and no user_id: %v", err)
	}
	v, err := ts.Service().Status(context.Background(), first.SessionId)
	if err != nil || v.Session.UserID != "alice" {
		t.Fatalf("the session's user is %q (%v), want the token's sub", v.Session.UserID, err)
	}
	again, err := joinAs(c, alice, "alice", "gig")
	if err != nil || again.SessionId != first.SessionId || again.Created {
		t.Fatalf("rejoin naming the token's own user: %+v, %v", again, err)
	}

	_, err = joinAs(c, alice, "bob", "gig")
	wantRefused(t, "another user id", err, connect.CodePermissionDenied, "user_id does not match the join token", alice)
	_, err = joinAs(c, s.token("alice", jwt.MapClaims{"event_id": "other"}), "", "gig")
	wantRefused(t, "another event's token", err, connect.CodePermissionDenied, "join token is for another event", "")
	old := time.Now().Add(-time.Hour)
	expired := s.token("alice", jwt.MapClaims{"iat": old.Unix(), "exp": old.Add(5 * time.Minute).Unix()})
	_, err = joinAs(c, expired, "", "gig")
	wantRefused(t, "expired token", err, connect.CodeUnauthenticated, "invalid join token: expired", expired)
	forged := newShop(t).token("alice", nil)
	_, err = joinAs(c, forged, "", "gig")
	if connect.CodeOf(err) != connect.CodeUnauthenticated || strings.Contains(err.Error(), forged) {
		t.Fatalf("a token of another key: %v", err)
	}
	_, err = joinAs(c, "not-the-backend-secret-0123456789", "bob", "gig")
	if connect.CodeOf(err) != connect.CodeUnauthenticated || strings.Contains(err.Error(), "not-the-backend") {
		t.Fatalf("a wrong service token: %v", err)
	}

	// A trusted backend names any user; the refusals changed nothing.
	bob, err := joinAs(c, serviceToken, "bob", "gig")
	if err != nil || !bob.Created || bob.GetPosition() != 2 {
		t.Fatalf("service token join: %+v, %v", bob, err)
	}
	if st := status(t, c, first.SessionId); st.GetPosition() != 1 || st.GetQueueLength() != 2 {
		t.Fatalf("alice after the refusals: position %d of %d, want 1 of 2", st.GetPosition(), st.GetQueueLength())
	}
}

// TestTokenModeAttackerCannotTouchAnotherSession: two replicas on one Redis in
// token mode; an attacker holding a valid join token of their own tries every
// RPC on the honest user's place, and the honest user's session is untouched.
func TestTokenModeAttackerCannotTouchAnotherSession(t *testing.T) {
	r := redistest.Start(t)
	s := newShop(t)
	cfg := s.tokenMode(redisConfig(t, r.Addr()))
	a, b := startServer(t, cfg), startServer(t, cfg)
	ca, cb := a.Client(), b.Client(connect.WithGRPC())

	alice, err := joinAs(ca, s.token("alice", nil), "", "gig")
	if err != nil {
		t.Fatal(err)
	}
	stream := openStream(t, ca, alice.SessionId)
	stream.until("alice first", queued(1, 1))

	mallory := s.token("mallory", nil)
	for _, c := range []waitroomv1connect.WaitroomServiceClient{ca, cb} {
		_, err := joinAs(c, mallory, "alice", "gig")
		wantRefused(t, "join as alice", err, connect.CodePermissionDenied, "user_id does not match the join token", mallory)
		_, err = joinAs(c, "", "alice", "gig")
		wantRefused(t, "join as alice without a token", err, connect.CodeUnauthenticated, "join token required", "")
	}
	own, err := joinAs(cb, mallory, "", "gig")
	if err != nil || own.SessionId == alice.SessionId {
		t.Fatalf("mallory's own join: %+v, %v", own, err)
	}
	stream.until("mallory behind alice", queued(1, 2))

	// Without alice's session id, nothing else names her session: a guessed
	// id of the same event is an unknown session on every RPC.
	guess := "gig~" + strings.Repeat("a", 26)
	for _, c := range []waitroomv1connect.WaitroomServiceClient{ca, cb} {
		_, err := c.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: guess}))
		wantRefused(t, "leave a guessed id", err, connect.CodeNotFound, "session not found", "")
		_, err = c.GetQueueStatus(context.Background(), connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: guess}))
		wantRefused(t, "status of a guessed id", err, connect.CodeNotFound, "session not found", "")
		_, err = c.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: guess}))
		wantRefused(t, "complete a guessed id", err, connect.CodeNotFound, "session not found", "")
		st, err := c.StreamQueuePosition(context.Background(), connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: guess}))
		if err == nil {
			for st.Receive() {
				t.Fatal("a stream on a guessed id sent a message")
			}
			err = st.Err()
		}
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("stream on a guessed id: %v", err)
		}
		// A join token is not a checkout token.
		_, err = c.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: mallory}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("complete with a join token: %v", err)
		}
	}

	// Alice is untouched: first in line, admitted first, and her checkout
	// completes at the other replica.
	if st := status(t, cb, alice.SessionId); st.GetPosition() != 1 || st.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED {
		t.Fatalf("alice after the attack: %v", st)
	}
	process(t, b)
	ready := stream.until("alice admitted", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
	if _, err := cb.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: ready.CheckoutToken})); err != nil {
		t.Fatalf("alice's checkout: %v", err)
	}
}

// TestCheckoutTokensSurviveKeyRotation: replica A signs with key 1; replica B
// signs with key 2 and lists key 1's public key as a verification key. A
// token A issued completes at B, and B's JWKS publishes both kids.
func TestCheckoutTokensSurviveKeyRotation(t *testing.T) {
	r := redistest.Start(t)
	key1, key2 := signingKeyPEM(t), signingKeyPEM(t)
	pub1, err := token.ParsePrivateKeyPEM(key1)
	if err != nil {
		t.Fatal(err)
	}
	cfgA := redisConfig(t, r.Addr())
	cfgA.SigningKeyPEM = key1
	cfgB := cfgA
	cfgB.SigningKeyPEM = key2
	cfgB.Tokens.ExtraPublicKeys = []crypto.PublicKey{pub1.Public()}
	a, b := startServer(t, cfgA), startServer(t, cfgB)

	alice := join(t, a.Client(), "alice", "gig")
	process(t, a)
	ready := status(t, a.Client(), alice.SessionId)
	if ready.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_READY {
		t.Fatalf("alice not admitted: %v", ready)
	}
	if _, err := b.Client().CompleteCheckout(context.Background(),
		connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: ready.GetCheckoutToken()})); err != nil {
		t.Fatalf("A's token at B: %v", err)
	}
	kidsA, kidsB := jwksKids(t, a), jwksKids(t, b)
	if len(kidsA) != 1 || len(kidsB) != 2 || !slices.Contains(kidsB, kidsA[0]) {
		t.Fatalf("JWKS kids: A %v, B %v; want B to list A's and its own", kidsA, kidsB)
	}
}

func signingKeyPEM(t testing.TB) []byte {
	t.Helper()
	return []byte(signingKey(t))
}

// jwksKids are the key ids a replica's JWKS publishes.
func jwksKids(t testing.TB, ts *servertest.Server) []string {
	t.Helper()
	res, err := http.Get(ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestJoinAuthSettingsThatProtectNothing: join credentials without token
// mode, or token mode without any credential, stop start-up instead of
// running open or refusing everyone.
func TestJoinAuthSettingsThatProtectNothing(t *testing.T) {
	s := newShop(t)
	for name, ja := range map[string]server.JoinAuthConfig{
		"keys without token mode":    {JoinTokens: token.JoinVerifierConfig{Keys: []crypto.PublicKey{s.key.Public()}, Issuer: shopIssuer}},
		"service tokens, open mode":  {ServiceTokens: []string{serviceToken}},
		"token mode, no credentials": {Token: true},
		"join keys without issuer":   {Token: true, JoinTokens: token.JoinVerifierConfig{Keys: []crypto.PublicKey{s.key.Public()}}},
	} {
		srv, err := server.New(context.Background(), server.Config{ListenAddr: "127.0.0.1:0", MetricsAddr: server.MetricsOff, Store: server.StoreMemory, JoinAuth: ja})
		if err == nil {
			srv.Serve(canceled())
			t.Errorf("%s: started", name)
		}
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestForgedCheckoutTokensCompleteNothing: forgeries of an admitted
// session's checkout token, made from the real token and the public JWKS,
// are refused by CompleteCheckout, and the session stays admitted until its
// real token completes it.
func TestForgedCheckoutTokensCompleteNothing(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := ts.Client()
	alice := join(t, c, "alice", "gig")
	process(t, ts)
	real := status(t, c, alice.SessionId).GetCheckoutToken()
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(real, claims)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := parsed.Header["kid"].(string)
	pub := jwksEd25519Key(t, ts, kid)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	sign := func(method jwt.SigningMethod, key any, header map[string]any, cl jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, cl)
		tok.Header["kid"] = kid
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(real, ".")
	tampered := jwt.MapClaims{}
	for k, v := range claims {
		tampered[k] = v
	}
	tampered["exp"] = time.Now().Add(24 * time.Hour).Unix()
	tamperedPayload := strings.Split(sign(jwt.SigningMethodEdDSA, otherKey, nil, tampered), ".")[1]
	forgeries := map[string]string{
		"alg none":                     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claims),
		"HS256 keyed with the raw key": sign(jwt.SigningMethodHS256, []byte(pub), nil, claims),
		"another key under our kid":    sign(jwt.SigningMethodEdDSA, otherKey, nil, claims),
		"tampered payload":             parts[0] + "." + tamperedPayload + "." + parts[2],
		"embedded jwk":                 sign(jwt.SigningMethodEdDSA, otherKey, map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519"}}, claims),
		"many dots":                    strings.Repeat(".", 100_000),
		"no signature":                 parts[0] + "." + parts[1] + ".",
	}
	for name, forged := range forgeries {
		_, err := c.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: forged}))
		if code := connect.CodeOf(err); code != connect.CodeInvalidArgument && code != connect.CodeResourceExhausted {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if st := status(t, c, alice.SessionId); st.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_READY {
		t.Fatalf("after the forgeries alice is %v, want still READY", st.GetStatus())
	}
	if _, err := c.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: real})); err != nil {
		t.Fatalf("the real token: %v", err)
	}
}

// jwksEd25519Key is the Ed25519 public key the replica publishes under kid.
func jwksEd25519Key(t testing.TB, ts *servertest.Server, kid string) ed25519.PublicKey {
	t.Helper()
	res, err := http.Get(ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			X   string `json:"x"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			b, err := base64.RawURLEncoding.DecodeString(k.X)
			if err != nil {
				t.Fatal(err)
			}
			return ed25519.PublicKey(b)
		}
	}
	t.Fatalf("kid %q not in the JWKS", kid)
	return nil
}

// TestJoinTokenKeysUnreachable: when the shop's JWKS cannot be fetched and no
// key is cached, a join is refused as unchecked, without calling the token
// invalid in any other way and without quoting it.
func TestJoinTokenKeysUnreachable(t *testing.T) {
	s := newShop(t)
	cfg := server.Config{JoinAuth: server.JoinAuthConfig{Token: true,
		JoinTokens: token.JoinVerifierConfig{JWKSURL: "http://127.0.0.1:1/jwks.json", Issuer: shopIssuer}}}
	ts := startServer(t, cfg)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": shopIssuer, "aud": "waitroom", "sub": "alice",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()})
	tok.Header["kid"] = "shop-key-1"
	raw, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = joinAs(ts.Client(), raw, "", "gig")
	wantRefused(t, "keys unreachable", err, connect.CodeUnauthenticated, "invalid join token: its key cannot be checked now", raw)
}
