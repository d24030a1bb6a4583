package server

import (
	"math"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// timestamp truncates to milliseconds: updated_at reads like the guide's
// RFC 3339 stamps without nanosecond noise.
func timestamp(t time.Time) *timestamppb.Timestamp {
	return timestamppb.New(t.Truncate(time.Millisecond))
}

func wait(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// count clamps a count into the API's int32 (JSON numbers, not strings).
func count(n int64) *int32 {
	return proto.Int32(int32(min(max(n, 0), math.MaxInt32)))
}

func positionUpdate(v queue.View) *waitroomv1.PositionUpdate {
	return &waitroomv1.PositionUpdate{
		SessionId:     v.Session.ID,
		Position:      count(v.Position),
		QueueLength:   count(v.QueueLength),
		Status:        wire.SessionStatus(v.Session.Status),
		UpdatedAt:     timestamp(v.UpdatedAt),
		CheckoutToken: v.CheckoutToken,
		CheckoutUrl:   v.CheckoutURL,
		EstimatedWait: wait(v.EstimatedWait),
	}
}

func joinResponse(v queue.View, created bool) *waitroomv1.JoinQueueResponse {
	return &waitroomv1.JoinQueueResponse{
		SessionId:     v.Session.ID,
		Position:      count(v.Position),
		QueueLength:   count(v.QueueLength),
		Status:        wire.SessionStatus(v.Session.Status),
		EstimatedWait: wait(v.EstimatedWait),
		UpdatedAt:     timestamp(v.UpdatedAt),
		CheckoutToken: v.CheckoutToken,
		CheckoutUrl:   v.CheckoutURL,
		Created:       created,
	}
}

func eventStateToProto(s queue.EventState) waitroomv1.EventState {
	switch s {
	case queue.EventActive:
		return waitroomv1.EventState_EVENT_STATE_ACTIVE
	case queue.EventPaused:
		return waitroomv1.EventState_EVENT_STATE_PAUSED
	case queue.EventClosed:
		return waitroomv1.EventState_EVENT_STATE_CLOSED
	}
	return waitroomv1.EventState_EVENT_STATE_UNSPECIFIED
}

func eventStateFromProto(s waitroomv1.EventState) (queue.EventState, error) {
	switch s {
	case waitroomv1.EventState_EVENT_STATE_UNSPECIFIED:
		return 0, nil
	case waitroomv1.EventState_EVENT_STATE_ACTIVE:
		return queue.EventActive, nil
	case waitroomv1.EventState_EVENT_STATE_PAUSED:
		return queue.EventPaused, nil
	case waitroomv1.EventState_EVENT_STATE_CLOSED:
		return queue.EventClosed, nil
	}
	return 0, &queue.InvalidArgumentError{Field: "event.state", Reason: "unknown state"}
}

func eventToProto(e queue.Event, st queue.EventStats) *waitroomv1.Event {
	return &waitroomv1.Event{
		EventId:        e.ID,
		State:          eventStateToProto(e.State),
		MaxConcurrent:  int32(min(e.MaxConcurrent, math.MaxInt32)),
		CheckoutWindow: durationpb.New(e.CheckoutWindow),
		CheckoutUrl:    e.CheckoutURL,
		QueueLength:    *count(st.QueueLength),
		Processing:     *count(st.Processing),
	}
}

func eventFromProto(p *waitroomv1.Event) (queue.Event, error) {
	if p == nil {
		return queue.Event{}, &queue.InvalidArgumentError{Field: "event", Reason: "must be set"}
	}
	state, err := eventStateFromProto(p.GetState())
	if err != nil {
		return queue.Event{}, err
	}
	e := queue.Event{ID: p.GetEventId(), State: state, MaxConcurrent: int64(p.GetMaxConcurrent()), CheckoutURL: p.GetCheckoutUrl()}
	if w := p.GetCheckoutWindow(); w != nil {
		if err := w.CheckValid(); err != nil {
			return queue.Event{}, &queue.InvalidArgumentError{Field: "event.checkout_window", Reason: err.Error()}
		}
		e.CheckoutWindow = w.AsDuration()
	}
	return e, nil
}
