package queue

import (
	"time"

	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// EventState says whether an event takes joins and admits.
type EventState uint8

// The event states. The zero value is not a state.
const (
	// EventActive takes joins and admits.
	EventActive EventState = iota + 1
	// EventPaused takes joins but holds admission.
	EventPaused
	// EventClosed refuses new joins and admits nobody.
	EventClosed
)

// String returns the lower-case name of the state.
func (s EventState) String() string {
	switch s {
	case EventActive:
		return "active"
	case EventPaused:
		return "paused"
	case EventClosed:
		return "closed"
	}
	return "unknown"
}

// Event is one on-sale's settings.
type Event struct {
	ID    string
	State EventState
	// MaxConcurrent is how many admitted sessions may hold a checkout slot at once.
	MaxConcurrent int64
	// CheckoutWindow is how long an admitted session has to complete checkout.
	CheckoutWindow time.Duration
	// CheckoutURL is where admitted visitors are sent with their token.
	CheckoutURL string
	// FairStart is the event's fair start (fairstart.go); zero: none.
	FairStart FairStart
	// AdmissionRate caps admission in users per second on top of
	// MaxConcurrent (RateBucket); 0 is unlimited.
	AdmissionRate float64
	// Lanes are the event's priority lanes (lane.go), the first the
	// default; none: one unnamed lane.
	Lanes []lanes.Lane
}

// EventStats are an event's current counts.
type EventStats struct {
	QueueLength int64
	Processing  int64
	// Seq is the event's latest change sequence number.
	Seq uint64
}
