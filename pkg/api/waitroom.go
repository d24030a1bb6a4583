package api

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// waitroomHandler serves waitroom.v1.WaitroomService.
type waitroomHandler struct {
	svc     *queue.Service
	log     *slog.Logger
	streams StreamObserver // nil: none
}

var _ waitroomv1connect.WaitroomServiceHandler = (*waitroomHandler)(nil)

func (h *waitroomHandler) JoinQueue(ctx context.Context, req *connect.Request[waitroomv1.JoinQueueRequest]) (*connect.Response[waitroomv1.JoinQueueResponse], error) {
	v, created, err := h.svc.JoinLane(ctx, req.Msg.GetUserId(), req.Msg.GetEventId(), trustedLane(ctx))
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	if created {
		h.log.Info("User joined queue", "session_id", v.Session.ID, "event_id", v.Session.EventID, "position", v.Position)
	}
	return connect.NewResponse(wire.JoinQueueResponse(v, created)), nil
}

func (h *waitroomHandler) GetQueueStatus(ctx context.Context, req *connect.Request[waitroomv1.GetQueueStatusRequest]) (*connect.Response[waitroomv1.PositionUpdate], error) {
	v, err := h.svc.Status(ctx, req.Msg.GetSessionId())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(wire.PositionUpdate(v)), nil
}

func (h *waitroomHandler) LeaveQueue(ctx context.Context, req *connect.Request[waitroomv1.LeaveQueueRequest]) (*connect.Response[waitroomv1.LeaveQueueResponse], error) {
	if err := h.svc.Leave(ctx, req.Msg.GetSessionId()); err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	h.log.Info("User left queue", "session_id", req.Msg.GetSessionId())
	return connect.NewResponse(&waitroomv1.LeaveQueueResponse{}), nil
}

func (h *waitroomHandler) CompleteCheckout(ctx context.Context, req *connect.Request[waitroomv1.CompleteCheckoutRequest]) (*connect.Response[waitroomv1.CompleteCheckoutResponse], error) {
	id, tok := req.Msg.GetSessionId(), req.Msg.GetCheckoutToken()
	var err error
	switch {
	case id != "" && tok != "":
		err = &queue.InvalidArgumentError{Field: "session_id", Reason: "set session_id or checkout_token, not both"}
	case tok != "":
		if id, err = h.svc.SessionOfToken(tok); err == nil {
			err = h.svc.CompleteCheckout(ctx, id)
		}
	default:
		err = h.svc.CompleteCheckout(ctx, id)
	}
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	h.log.Info("Checkout completed", "session_id", id)
	return connect.NewResponse(&waitroomv1.CompleteCheckoutResponse{}), nil
}

func (h *waitroomHandler) StreamQueuePosition(ctx context.Context, req *connect.Request[waitroomv1.StreamQueuePositionRequest], stream *connect.ServerStream[waitroomv1.PositionUpdate]) error {
	id := req.Msg.GetSessionId()
	st, err := watchShallow(ctx, h.svc, id)
	if err != nil {
		return connectError(h.log, req.Spec().Procedure, err)
	}
	defer st.Close()
	// Attributes are added per line rather than with log.With: a stream lives
	// for hours and logs a handful of lines, so it should not hold a logger.
	event := queue.EventOfSession(id)
	h.log.Info("Started streaming position updates", "session_id", id, "event_id", event)
	// The level is fixed for the server's life: one check per stream instead
	// of one per message.
	debug := h.log.Enabled(ctx, slog.LevelDebug)
	var msg wire.PositionUpdateBuf
	var last queue.Status
	wd := writeDeadlineFrom(ctx)
	for {
		// The write deadline runs whenever the stream is not waiting for an
		// update: for each Send, and for the end Connect writes on return.
		wd.disarm()
		// Idle in Wait, not in Next: see Stream.Wait. This frame is on every
		// idle stream's stack too, so what it rarely does (logging the end,
		// the debug line per message) is in functions of their own.
		err := st.Wait(ctx)
		var v queue.View
		if err == nil {
			v, err = st.Next(ctx)
		}
		wd.arm()
		if err != nil || ctx.Err() != nil {
			return h.streamEnded(ctx, req.Spec().Procedure, id, event, last, debug, err)
		}
		if err := stream.Send(msg.Fill(v)); err != nil {
			if debug {
				h.log.Debug("Position stream send failed", "session_id", id, "event_id", event, "error", err)
			}
			return err
		}
		last = v.Session.Status
		if h.streams != nil {
			h.streams.Sent(v.ChangedAt, v.Heartbeat)
		}
		if debug {
			h.logSent(id, event, &v)
		}
	}
}

// streamEnded logs why a stream ends and returns what the handler returns.
// Not inlined: its log lines' arguments would widen the handler's frame.
//
//go:noinline
func (h *waitroomHandler) streamEnded(ctx context.Context, procedure, id, event string, last queue.Status, debug bool, err error) error {
	switch {
	case errors.Is(err, io.EOF):
		h.log.Info("Session status changed, closing stream", "session_id", id, "event_id", event, "status", last.String())
		return nil
	case errors.Is(err, queue.ErrStreamMaxAge):
		// A clean end: the client opens a new stream on the same session.
		if debug {
			h.log.Debug("Position stream reached its maximum age", "session_id", id, "event_id", event)
		}
		return nil
	case ctx.Err() != nil:
		if debug {
			h.log.Debug("Client closed position stream", "session_id", id, "event_id", event)
		}
		return nil
	default:
		return connectError(h.log.With("session_id", id, "event_id", event), procedure, err)
	}
}

// logSent is the debug line for a message sent; not inlined, like streamEnded.
//
//go:noinline
func (h *waitroomHandler) logSent(id, event string, v *queue.View) {
	h.log.Debug("Sent position update to client", "session_id", id, "event_id", event,
		"position", v.Position, "queue_length", v.QueueLength, "status", v.Session.Status.String(),
		"heartbeat", v.Heartbeat)
}

// watchShallow opens the watch on a goroutine of its own. Opening reads the
// session from the store, and a deep read (the Redis client's) would grow the
// handler's stack for good: the runtime only shrinks a stack whose use falls
// under a quarter of it, and a parked stream handler uses more than a quarter
// of 16 KiB, so every open stream would keep the doubled stack.
func watchShallow(ctx context.Context, svc *queue.Service, id string) (*queue.Stream, error) {
	type result struct {
		st  *queue.Stream
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := svc.Watch(ctx, id)
		done <- result{st, err}
	}()
	r := <-done
	return r.st, r.err
}
