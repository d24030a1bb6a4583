package queue

import "time"

// Observer is told what a Service did and what its processor saw, for
// metrics. Its methods are called on requests' and the processor's paths:
// they must return quickly and never block. Config.Observer nil observes
// nothing and costs nothing.
type Observer interface {
	// Counted says this service changed n sessions of the event by a
	// change of kind k: joined, left, completed, admitted or expired.
	Counted(eventID string, k ChangeKind, n int)
	// LiveEvents is a processor pass's list of the live events (the only
	// ones it visits) with their current counts, at most once per
	// FiguresEvery: an event missing from it has gone idle.
	LiveEvents(now time.Time, figures []EventFigures)
	// StoreFailed says a processor pass found the store failing.
	StoreFailed(err error)
}

// EventFigures are one live event's counts as a processor pass read them.
type EventFigures struct {
	EventID     string
	State       EventState
	QueueLength int64
	// InCheckout is how many admitted sessions hold a checkout slot.
	InCheckout int64
}

// FiguresEvery is how often, at most, the processor reads the live events'
// counts for the Observer: one store read per live event each time.
const FiguresEvery = time.Second
