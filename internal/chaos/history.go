// Package chaos checks what clients saw of a waiting room under faults, in
// the manner of Jepsen's queue checker. A run records every operation a
// client made (its call, when, and its outcome: ok, failed, or unknown when
// a fault hid the answer), the Kafka records the replicas produced, and the
// state everything settled in once the faults ended; Check then finds every
// acknowledged join in exactly one final state, and nothing lost, duplicated
// or unexpected, nobody admitted twice or out of turn, capacity never
// exceeded, every stream ending on the final state, and each event's Kafka
// records numbered 1..n without a gap.
//
// The run itself (two replicas on one Redis and a Kafka broker, and the
// faults) is the package's test: go test ./internal/chaos.
package chaos

import (
	"slices"
	"sync"
	"time"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// Kind is what an operation did.
type Kind string

// The operations a run records.
const (
	// Join is a JoinQueue call: User and Event in, Session and Status out.
	Join Kind = "join"
	// Leave is a LeaveQueue call on Session.
	Leave Kind = "leave"
	// Complete is a CompleteCheckout call on Session (by id or by token).
	Complete Kind = "complete"
	// CompleteKafka is a checkout.completed record for Session, produced to
	// the broker: ok means the broker has it, not that it took effect.
	CompleteKafka Kind = "complete-kafka"
	// Status is a GetQueueStatus call on Session.
	Status Kind = "status"
	// StreamMsg is one message received on stream number Stream of Session.
	StreamMsg Kind = "stream-msg"
	// StreamEnd is the end of stream number Stream of Session: ok when the
	// server ended it, failed or unknown (with Err) otherwise.
	StreamEnd Kind = "stream-end"
	// Sample is a GetEvent call on Event: Processing, QueueLength and
	// Capacity at that moment.
	Sample Kind = "sample"
	// FinalStatus is a GetQueueStatus call on Session once the run settled.
	FinalStatus Kind = "final-status"
	// FinalStream is the first message of a stream opened on Session once
	// the run settled.
	FinalStream Kind = "final-stream"
	// Fault is a fault injected (Value says which), from Invoke to Return.
	Fault Kind = "fault"
)

// Outcome is how an operation ended, as its caller knows it.
type Outcome uint8

const (
	// Unknown: the caller cannot tell whether it took effect (a timeout, a
	// connection cut, a store that went away mid-call).
	Unknown Outcome = iota
	// OK: it took effect, and Op's values are what it returned.
	OK
	// Fail: it certainly did not take effect (the server refused it).
	Fail
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	}
	return "unknown"
}

// Op is one operation: what was asked, when, and what came back.
type Op struct {
	Kind Kind
	// Process is the client that made the call; a client makes one call at
	// a time, except its stream, which runs beside its calls.
	Process int
	Event   string
	User    string
	Session string
	// Stream numbers a client's streams of one session, from 1.
	Stream int

	Invoke, Return time.Time
	Outcome        Outcome
	// Err is the error of a failed or unknown call.
	Err string

	// The values read: a session's state, or an event's counts (Sample).
	Status      waitroomv1.SessionStatus
	Position    int32
	QueueLength int32
	// Token is the checkout token a READY state carried.
	Token      string
	Processing int32
	Capacity   int32
	// Value describes a Fault.
	Value string
}

// Recorder collects a run's operations from many goroutines.
type Recorder struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu  sync.Mutex
	ops []Op
}

// Time reads the recorder's clock.
func (r *Recorder) Time() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Add records a finished operation. An Op whose Return is zero returns now.
func (r *Recorder) Add(op Op) {
	if op.Return.IsZero() {
		op.Return = r.Time()
	}
	if op.Invoke.IsZero() {
		op.Invoke = op.Return
	}
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// History returns the operations recorded so far, ordered by invocation.
func (r *Recorder) History() []Op {
	r.mu.Lock()
	h := slices.Clone(r.ops)
	r.mu.Unlock()
	slices.SortStableFunc(h, func(a, b Op) int { return a.Invoke.Compare(b.Invoke) })
	return h
}
