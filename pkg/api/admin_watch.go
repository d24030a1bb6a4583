package api

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// MaxWatches bounds the WatchEvent streams open at once on one replica:
// each reads the store once a second.
const MaxWatches = 256

var errWatchesMax = errors.New("this server has as many WatchEvent streams open as it serves; retry later")

// watchSlots counts the open WatchEvent streams against MaxWatches.
type watchSlots struct{ open atomic.Int64 }

func (w *watchSlots) take() bool {
	if w.open.Add(1) > MaxWatches {
		w.open.Add(-1)
		return false
	}
	return true
}

func (w *watchSlots) give() { w.open.Add(-1) }

// WatchEvent streams an event's live figures: at once, then every second.
func (h *adminHandler) WatchEvent(ctx context.Context, req *connect.Request[waitroomv1.WatchEventRequest], stream *connect.ServerStream[waitroomv1.WatchEventResponse]) error {
	if !h.watches.take() {
		return retryLater(errWatchesMax, time.Second)
	}
	defer h.watches.give()
	var sendErr error
	err := h.svc.WatchFigures(ctx, req.Msg.GetEventId(), func(f queue.Figures) error {
		sendErr = stream.Send(&waitroomv1.WatchEventResponse{Stats: wire.EventStats(f)})
		return sendErr
	})
	switch {
	case sendErr != nil:
		return sendErr // the caller went away
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return nil
	}
	return connectError(h.log, req.Spec().Procedure, err)
}
