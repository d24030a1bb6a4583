package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// adminHandler serves waitroom.v1.EventAdminService.
type adminHandler struct {
	svc   *queue.Service
	log   *slog.Logger
	token string // WAITROOM_ADMIN_TOKEN; empty disables the service
}

var _ waitroomv1connect.EventAdminServiceHandler = (*adminHandler)(nil)

// authorize checks the bearer token in constant time.
func (h *adminHandler) authorize(hdr interface{ Get(string) string }) error {
	if h.token == "" {
		return connect.NewError(connect.CodePermissionDenied, errors.New("admin API disabled: set WAITROOM_ADMIN_TOKEN"))
	}
	// The scheme is case-insensitive (RFC 9110). Digests are compared so
	// that not even the token's length leaks through timing.
	scheme, got, ok := strings.Cut(hdr.Get("Authorization"), " ")
	gotSum, wantSum := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.token))
	if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(gotSum[:], wantSum[:]) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("missing or wrong admin bearer token"))
	}
	return nil
}

func (h *adminHandler) PutEvent(ctx context.Context, req *connect.Request[waitroomv1.PutEventRequest]) (*connect.Response[waitroomv1.PutEventResponse], error) {
	if err := h.authorize(req.Header()); err != nil {
		return nil, err
	}
	e, err := wire.EventFromProto(req.Msg.GetEvent())
	if err == nil {
		e, err = h.svc.PutEvent(ctx, e)
	}
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	h.log.Info("Event settings changed", "event_id", e.ID, "state", e.State.String(), "max_concurrent", e.MaxConcurrent, "checkout_window", e.CheckoutWindow)
	_, st, err := h.svc.Event(ctx, e.ID)
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&waitroomv1.PutEventResponse{Event: wire.Event(e, st)}), nil
}

func (h *adminHandler) GetEvent(ctx context.Context, req *connect.Request[waitroomv1.GetEventRequest]) (*connect.Response[waitroomv1.GetEventResponse], error) {
	if err := h.authorize(req.Header()); err != nil {
		return nil, err
	}
	e, st, err := h.svc.Event(ctx, req.Msg.GetEventId())
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&waitroomv1.GetEventResponse{Event: wire.Event(e, st)}), nil
}

func (h *adminHandler) ListEvents(ctx context.Context, req *connect.Request[waitroomv1.ListEventsRequest]) (*connect.Response[waitroomv1.ListEventsResponse], error) {
	if err := h.authorize(req.Header()); err != nil {
		return nil, err
	}
	events, err := h.svc.Events(ctx)
	if err != nil {
		return nil, connectError(h.log, req.Spec().Procedure, err)
	}
	out := make([]*waitroomv1.Event, 0, len(events))
	for _, e := range events {
		_, st, err := h.svc.Event(ctx, e.ID)
		if err != nil {
			return nil, connectError(h.log, req.Spec().Procedure, err)
		}
		out = append(out, wire.Event(e, st))
	}
	return connect.NewResponse(&waitroomv1.ListEventsResponse{Events: out}), nil
}
