package telemetry

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/waitroom/waitroom/pkg/queue"
)

// StoreErrors is a Connect interceptor counting the calls that failed in
// the store: those answered Unavailable because the store could not be
// reached, and those answered Internal.
func (d *Domain) StoreErrors() connect.Interceptor { return storeErrors{d} }

type storeErrors struct{ d *Domain }

func (s storeErrors) count(err error) {
	if err == nil {
		return
	}
	if errors.Is(err, queue.ErrUnavailable) || errors.Is(err, queue.ErrTimeout) || connect.CodeOf(err) == connect.CodeInternal {
		s.d.RequestStoreFailed()
	}
}

func (s storeErrors) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		s.count(err)
		return res, err
	}
}

func (s storeErrors) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		s.count(err)
		return err
	}
}

func (storeErrors) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
