package wire

import (
	"math"

	"google.golang.org/protobuf/types/known/durationpb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// Event is an event and its figures as the admin API shows them.
func Event(e queue.Event, st queue.EventStats) *waitroomv1.Event {
	p := &waitroomv1.Event{
		EventId:        e.ID,
		State:          eventState(e.State),
		MaxConcurrent:  int32(min(e.MaxConcurrent, math.MaxInt32)),
		CheckoutWindow: durationpb.New(e.CheckoutWindow),
		CheckoutUrl:    e.CheckoutURL,
		QueueLength:    clamp32(st.QueueLength),
		Processing:     clamp32(st.Processing),
		AdmissionRate:  e.AdmissionRate,
	}
	eventFairStart(p, e.FairStart)
	for _, l := range e.Lanes {
		p.Lanes = append(p.Lanes, &waitroomv1.Lane{Name: l.Name, Weight: int32(l.Weight)})
	}
	return p
}

// EventFromProto reads an event given to the admin API. A missing event, an
// unknown state or an invalid checkout window is a
// *queue.InvalidArgumentError.
func EventFromProto(p *waitroomv1.Event) (queue.Event, error) {
	if p == nil {
		return queue.Event{}, &queue.InvalidArgumentError{Field: "event", Reason: "must be set"}
	}
	state, err := eventStateFromProto(p.GetState())
	if err != nil {
		return queue.Event{}, err
	}
	e := queue.Event{ID: p.GetEventId(), State: state, MaxConcurrent: int64(p.GetMaxConcurrent()), CheckoutURL: p.GetCheckoutUrl(),
		AdmissionRate: p.GetAdmissionRate()}
	if w := p.GetCheckoutWindow(); w != nil {
		if err := w.CheckValid(); err != nil {
			return queue.Event{}, &queue.InvalidArgumentError{Field: "event.checkout_window", Reason: err.Error()}
		}
		e.CheckoutWindow = w.AsDuration()
	}
	for _, l := range p.GetLanes() {
		e.Lanes = append(e.Lanes, lanes.Lane{Name: l.GetName(), Weight: int64(l.GetWeight())})
	}
	e.FairStart, err = fairStartFromProto(p)
	return e, err
}

func eventState(s queue.EventState) waitroomv1.EventState {
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
