package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// adminHandler serves waitroom.v1.EventAdminService; adminAuth has checked
// the caller before any of its methods runs.
type adminHandler struct {
	svc     *queue.Service
	log     *slog.Logger
	watches watchSlots
}

var _ waitroomv1connect.EventAdminServiceHandler = (*adminHandler)(nil)

func (h *adminHandler) PutEvent(ctx context.Context, req *connect.Request[waitroomv1.PutEventRequest]) (*connect.Response[waitroomv1.PutEventResponse], error) {
	e, err := wire.EventFromProto(req.Msg.GetEvent())
	if err == nil {
		e, err = h.svc.PutEvent(ctx, e)
	}
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	h.log.Info("Event settings changed", "event_id", e.ID, "state", e.State.String(), "max_concurrent", e.MaxConcurrent, "checkout_window", e.CheckoutWindow,
		"sale_starts_at", e.FairStart.SaleStartsAt, "seed_commitment", e.FairStart.Commitment())
	_, st, err := h.svc.Event(ctx, e.ID)
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&waitroomv1.PutEventResponse{Event: wire.Event(e, st)}), nil
}

func (h *adminHandler) GetEvent(ctx context.Context, req *connect.Request[waitroomv1.GetEventRequest]) (*connect.Response[waitroomv1.GetEventResponse], error) {
	e, st, err := h.svc.Event(ctx, req.Msg.GetEventId())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&waitroomv1.GetEventResponse{Event: wire.Event(e, st)}), nil
}

func (h *adminHandler) ListPreQueue(ctx context.Context, req *connect.Request[waitroomv1.ListPreQueueRequest]) (*connect.Response[waitroomv1.ListPreQueueResponse], error) {
	fs, ids, err := h.svc.PreQueue(ctx, req.Msg.GetEventId())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(wire.PreQueue(fs, ids)), nil
}
