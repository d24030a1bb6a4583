package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// WatchEvent streams an event's live figures.
func (h *adminHandler) WatchEvent(ctx context.Context, req *connect.Request[waitroomv1.WatchEventRequest], stream *connect.ServerStream[waitroomv1.WatchEventResponse]) error {
	return connect.NewError(connect.CodeUnimplemented, errors.New("WatchEvent is not served yet"))
}
