package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/waitroom/waitroom/pkg/queue"
)

// connectError is the one place where domain errors become Connect codes.
func connectError(log *slog.Logger, procedure string, err error) error {
	var invalid *queue.InvalidArgumentError
	var status *queue.StatusError
	switch {
	case errors.As(err, &invalid):
		return connect.NewError(connect.CodeInvalidArgument, invalid)
	case errors.Is(err, queue.ErrSessionNotFound),
		errors.Is(err, queue.ErrSessionExpired),
		errors.Is(err, queue.ErrEventNotFound):
		return connect.NewError(connect.CodeNotFound, bare(err))
	case errors.As(err, &status):
		return connect.NewError(connect.CodeFailedPrecondition, status)
	case errors.Is(err, queue.ErrEventClosed):
		return connect.NewError(connect.CodeFailedPrecondition, queue.ErrEventClosed)
	case errors.Is(err, queue.ErrSaleStarted), errors.Is(err, queue.ErrNotPlaced), errors.Is(err, queue.ErrEventLive),
		errors.Is(err, queue.ErrLanesInUse), errors.Is(err, queue.ErrLanesUnsupported):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, queue.ErrShuttingDown):
		// Every open stream ends this way at shutdown: not worth a line each.
		return connect.NewError(connect.CodeUnavailable, bare(err))
	case errors.Is(err, queue.ErrTimeout):
		// Slow, not down: the call may yet have taken effect, and the
		// client may retry it.
		log.Warn("Request failed: store timed out", "procedure", procedure, "error", err)
		return connect.NewError(connect.CodeDeadlineExceeded, bare(err))
	case errors.Is(err, queue.ErrUnavailable):
		log.Warn("Request failed: store unavailable", "procedure", procedure, "error", err)
		return connect.NewError(connect.CodeUnavailable, bare(err))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	log.Error("Request failed", "procedure", procedure, "error", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// bare keeps a sentinel's own message ("session not found") and drops any
// wrapping detail that is the server's business, not the client's.
func bare(err error) error {
	for _, s := range []error{queue.ErrSessionNotFound, queue.ErrSessionExpired, queue.ErrEventNotFound, queue.ErrTimeout, queue.ErrUnavailable, queue.ErrShuttingDown} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
