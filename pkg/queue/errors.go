package queue

import (
	"errors"
	"fmt"
)

// Domain errors. The server maps each to one Connect code in one place.
var (
	// ErrSessionNotFound: a well-formed id that names no session (NotFound).
	ErrSessionNotFound = errors.New("session not found")
	// ErrSessionExpired: the session expired (NotFound).
	ErrSessionExpired = errors.New("session expired")
	// ErrEventNotFound: no such event (NotFound).
	ErrEventNotFound = errors.New("event not found")
	// ErrEventClosed: the event refuses new joins (FailedPrecondition).
	ErrEventClosed = errors.New("event is closed")
	// ErrSaleStarted: sale_starts_at cannot change once the pre-queue is
	// placed (FailedPrecondition).
	ErrSaleStarted = errors.New("the sale has started: its fair start is fixed")
	// ErrNotPlaced: the event has no placed pre-queue to list (FailedPrecondition).
	ErrNotPlaced = errors.New("the event's pre-queue is not placed")
	// ErrNotQueued: the operation needs a queued session (FailedPrecondition).
	ErrNotQueued = errors.New("session is not queued")
	// ErrNotAdmitted: the operation needs an admitted session (FailedPrecondition).
	ErrNotAdmitted = errors.New("session is not admitted")
	// ErrUnavailable: the store cannot be reached; the caller may retry (Unavailable).
	ErrUnavailable = errors.New("store unavailable")
	// ErrTimeout: the store is reachable but did not answer within its
	// deadline, as a busy one may not; the call may still have taken effect
	// and the caller may retry (DeadlineExceeded). A slow store is not a down
	// store: health stays SERVING.
	ErrTimeout = errors.New("store timed out")
	// ErrShuttingDown: the process is stopping and ends its streams (Unavailable).
	ErrShuttingDown = errors.New("server shutting down")
	// ErrStreamMaxAge: a stream reached its longest life and ends cleanly;
	// the client opens a new one.
	ErrStreamMaxAge = errors.New("stream reached its maximum age")
)

// InvalidArgumentError reports malformed input, naming the field.
type InvalidArgumentError struct {
	Field  string
	Reason string
}

func (e *InvalidArgumentError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// StatusError is returned with ErrNotQueued and ErrNotAdmitted so the caller
// learns the status that refused the operation.
type StatusError struct {
	Err    error // ErrNotQueued or ErrNotAdmitted
	Status Status
}

func (e *StatusError) Error() string { return fmt.Sprintf("%v (status %v)", e.Err, e.Status) }

// Unwrap lets errors.Is match the sentinel.
func (e *StatusError) Unwrap() error { return e.Err }
