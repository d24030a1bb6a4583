package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// UpdateEvent, DeleteEvent and ListEvents' paging.

func (h *adminHandler) UpdateEvent(ctx context.Context, req *connect.Request[waitroomv1.UpdateEventRequest]) (*connect.Response[waitroomv1.UpdateEventResponse], error) {
	u, err := wire.EventUpdate(req.Msg)
	if err == nil {
		u.Event, err = h.svc.UpdateEvent(ctx, u)
	}
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	_, st, err := h.svc.Event(ctx, u.Event.ID)
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&waitroomv1.UpdateEventResponse{Event: wire.Event(u.Event, st)}), nil
}

func (h *adminHandler) DeleteEvent(ctx context.Context, req *connect.Request[waitroomv1.DeleteEventRequest]) (*connect.Response[waitroomv1.DeleteEventResponse], error) {
	n, err := h.svc.DeleteEvent(ctx, req.Msg.GetEventId(), req.Msg.GetForce())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&waitroomv1.DeleteEventResponse{SessionsExpired: int64(n)}), nil
}

func (h *adminHandler) ListEvents(ctx context.Context, req *connect.Request[waitroomv1.ListEventsRequest]) (*connect.Response[waitroomv1.ListEventsResponse], error) {
	events, next, err := h.svc.EventsPage(ctx, int(req.Msg.GetPageSize()), req.Msg.GetPageToken())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	out := make([]*waitroomv1.Event, 0, len(events))
	for _, e := range events {
		_, st, err := h.svc.Event(ctx, e.ID)
		if errors.Is(err, queue.ErrEventNotFound) {
			continue // deleted since the page was read
		}
		if err != nil {
			return nil, connectError(h.log, req.Spec().Procedure, err)
		}
		out = append(out, wire.Event(e, st))
	}
	return connect.NewResponse(&waitroomv1.ListEventsResponse{Events: out, NextPageToken: next}), nil
}
