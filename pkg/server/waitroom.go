package server

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/queue"
)

// waitroomHandler serves waitroom.v1.WaitroomService.
type waitroomHandler struct {
	svc *queue.Service
	log *slog.Logger
}

var _ waitroomv1connect.WaitroomServiceHandler = (*waitroomHandler)(nil)

func (h *waitroomHandler) JoinQueue(ctx context.Context, req *connect.Request[waitroomv1.JoinQueueRequest]) (*connect.Response[waitroomv1.JoinQueueResponse], error) {
	v, created, err := h.svc.Join(ctx, req.Msg.GetUserId(), req.Msg.GetEventId())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	if created {
		h.log.Info("User joined queue", "session_id", v.Session.ID, "event_id", v.Session.EventID, "position", v.Position)
	}
	return connect.NewResponse(joinResponse(v, created)), nil
}

func (h *waitroomHandler) GetQueueStatus(ctx context.Context, req *connect.Request[waitroomv1.GetQueueStatusRequest]) (*connect.Response[waitroomv1.PositionUpdate], error) {
	v, err := h.svc.Status(ctx, req.Msg.GetSessionId())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(positionUpdate(v)), nil
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
		err = h.svc.CompleteCheckoutToken(ctx, tok)
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
	st, err := h.svc.Watch(ctx, id)
	if err != nil {
		return connectError(h.log, req.Spec().Procedure, err)
	}
	defer st.Close()
	log := h.log.With("session_id", id, "event_id", queue.EventOfSession(id))
	log.Info("Started streaming position updates")
	var last queue.Status
	for {
		v, err := st.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			log.Info("Session status changed, closing stream", "status", last.String())
			return nil
		case ctx.Err() != nil:
			log.Debug("Client closed position stream")
			return nil
		case err != nil:
			return connectError(log, req.Spec().Procedure, err)
		}
		if err := stream.Send(positionUpdate(v)); err != nil {
			log.Debug("Position stream send failed", "error", err)
			return err
		}
		last = v.Session.Status
		log.Debug("Sent position update to client", "position", v.Position, "queue_length", v.QueueLength, "status", v.Session.Status.String())
	}
}
