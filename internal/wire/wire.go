// Package wire converts between domain values and their API (protobuf)
// forms, for the RPC handlers and the Kafka records alike. It is the one
// place that knows both.
package wire

import (
	"math"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// SessionStatus is a session status in the API's enum.
func SessionStatus(s queue.Status) waitroomv1.SessionStatus {
	switch s {
	case queue.StatusQueued:
		return waitroomv1.SessionStatus_SESSION_STATUS_QUEUED
	case queue.StatusReady:
		return waitroomv1.SessionStatus_SESSION_STATUS_READY
	case queue.StatusCompleted:
		return waitroomv1.SessionStatus_SESSION_STATUS_COMPLETED
	case queue.StatusExpired:
		return waitroomv1.SessionStatus_SESSION_STATUS_EXPIRED
	case queue.StatusLeft:
		return waitroomv1.SessionStatus_SESSION_STATUS_LEFT
	}
	return waitroomv1.SessionStatus_SESSION_STATUS_UNSPECIFIED
}

// updatedAt truncates to milliseconds: updated_at reads like the guide's
// RFC 3339 stamps without nanosecond noise.
func updatedAt(t time.Time) *timestamppb.Timestamp {
	return timestamppb.New(t.Truncate(time.Millisecond))
}

// optionalTimestamp leaves a zero time unset rather than sending year 1.
func optionalTimestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// estimatedWait leaves an unknown (zero) wait unset.
func estimatedWait(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// count clamps a count into the API's int32 (JSON numbers, not strings).
func count(n int64) *int32 {
	return proto.Int32(clamp32(n))
}

func clamp32(n int64) int32 { return int32(min(max(n, 0), math.MaxInt32)) }
