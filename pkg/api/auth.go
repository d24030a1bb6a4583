package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"

	"connectrpc.com/connect"
)

// adminAuth lets through only calls bearing the admin token. It wraps the
// whole EventAdminService handler, so an RPC added to the service is covered
// without doing anything.
type adminAuth struct {
	token string // empty disables the service
}

var _ connect.Interceptor = adminAuth{}

func (a adminAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := a.check(req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a adminAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// WrapStreamingClient leaves clients alone: this interceptor only guards
// handlers.
func (adminAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// check compares the bearer token in constant time.
func (a adminAuth) check(h http.Header) error {
	if a.token == "" {
		return connect.NewError(connect.CodePermissionDenied, errors.New("admin API disabled: set WAITROOM_ADMIN_TOKEN"))
	}
	// Digests are compared so that not even the token's length leaks
	// through timing.
	got, ok := bearerToken(h)
	gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.token))
	if !ok || subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("missing or wrong admin bearer token"))
	}
	return nil
}
