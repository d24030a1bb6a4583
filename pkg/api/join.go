package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
)

// JoinAuth says who may join a queue as whom. The zero value is open mode:
// any caller names any user id, which suits a ticketing backend that calls
// JoinQueue for its logged-in users and nothing else.
type JoinAuth struct {
	// Required makes every JoinQueue prove its user: with a service token,
	// or with a join token whose subject is the user.
	Required bool
	// ServiceTokens are the bearer secrets of trusted backends; a call
	// bearing one may name any user id.
	ServiceTokens []string
	// Verifier checks join tokens; nil accepts none.
	Verifier JoinVerifier
}

// JoinVerifier verifies a join token: a JWT that a ticketing site signs for
// one of its visitors. The message of an error it returns is shown to the
// caller, so it must never contain the token.
type JoinVerifier interface {
	VerifyJoin(ctx context.Context, raw string) (JoinIdentity, error)
}

// JoinIdentity is what a join token proves.
type JoinIdentity struct {
	// UserID is the visitor the token was signed for (its sub).
	UserID string
	// EventID, when set, is the one event the token admits to.
	EventID string
	// Lane, when set, is the priority lane the token puts the visitor in.
	Lane string
}

// Join-auth refusals. Their messages are the API's: pages match on them.
var (
	errJoinTokenRequired = errors.New("join token required")
	errOtherUser         = errors.New("user_id does not match the join token")
	errOtherEvent        = errors.New("join token is for another event")
	errUntrustedLane     = errors.New("lane is set only by a join token's lane claim or a service credential")
)

// laneKey carries the lane a trusted source named from joinAuth to the
// JoinQueue handler.
type laneKey struct{}

// trustedLane is the lane joinAuth vouched for ("" for the default).
func trustedLane(ctx context.Context) string {
	l, _ := ctx.Value(laneKey{}).(string)
	return l
}

// joinAuth guards JoinQueue. It wraps the whole WaitroomService handler, so
// the check lives in one place; the other RPCs act on a session id, which is
// unguessable and only ever handed to the session's own user.
//
// It also applies the per-address join limit, to every join but a trusted
// backend's, before any token is verified, so a flood costs little.
type joinAuth struct {
	JoinAuth
	services [][sha256.Size]byte
	limit    *JoinLimiter
}

func newJoinAuth(a JoinAuth, limit *JoinLimiter) joinAuth {
	j := joinAuth{JoinAuth: a, limit: limit}
	for _, s := range a.ServiceTokens {
		j.services = append(j.services, sha256.Sum256([]byte(s)))
	}
	return j
}

var _ connect.Interceptor = joinAuth{}

func (a joinAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().Procedure != waitroomv1connect.WaitroomServiceJoinQueueProcedure {
			return next(ctx, req)
		}
		msg, ok := req.Any().(*waitroomv1.JoinQueueRequest)
		if !ok {
			return nil, connect.NewError(connect.CodeInternal, errors.New("unexpected request type"))
		}
		bearer, hasBearer := bearerToken(req.Header())
		if hasBearer && a.isService(bearer) {
			// A trusted backend names the lane in the request.
			return next(context.WithValue(ctx, laneKey{}, msg.GetLane()), req)
		}
		if err := a.limit.allow(req.Peer().Addr, req.Header()); err != nil {
			return nil, err
		}
		lane := ""
		if a.Required {
			id, err := a.authorize(ctx, bearer, hasBearer, msg)
			if err != nil {
				return nil, err
			}
			lane = id.Lane
		}
		if msg.GetLane() != "" && msg.GetLane() != lane {
			return nil, connect.NewError(connect.CodePermissionDenied, errUntrustedLane)
		}
		return next(context.WithValue(ctx, laneKey{}, lane), req)
	}
}

// WrapStreamingHandler lets streams through: none of them creates a session.
func (joinAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// WrapStreamingClient leaves clients alone: this interceptor only guards
// handlers.
func (joinAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// authorize checks a join token (a service token was let through before)
// and fills in or checks the user id and the event.
func (a joinAuth) authorize(ctx context.Context, bearer string, hasBearer bool, msg *waitroomv1.JoinQueueRequest) (JoinIdentity, error) {
	if !hasBearer || a.Verifier == nil {
		return JoinIdentity{}, connect.NewError(connect.CodeUnauthenticated, errJoinTokenRequired)
	}
	id, err := a.Verifier.VerifyJoin(ctx, bearer)
	if err != nil {
		return JoinIdentity{}, connect.NewError(connect.CodeUnauthenticated, err)
	}
	switch {
	case msg.GetUserId() == "":
		msg.UserId = id.UserID
	case msg.GetUserId() != id.UserID:
		return JoinIdentity{}, connect.NewError(connect.CodePermissionDenied, errOtherUser)
	}
	if id.EventID != "" && id.EventID != msg.GetEventId() {
		return JoinIdentity{}, connect.NewError(connect.CodePermissionDenied, errOtherEvent)
	}
	return id, nil
}

// isService compares the bearer with every service token in constant time:
// digests, so not even a token's length leaks, and no early exit.
func (a joinAuth) isService(bearer string) bool {
	got := sha256.Sum256([]byte(bearer))
	match := 0
	for _, want := range a.services {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}

// bearerToken is the credential of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110).
func bearerToken(h http.Header) (string, bool) {
	scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}
