// Package wire converts domain values to their API (protobuf) forms, for the
// RPC handlers and the Kafka records alike.
package wire

import (
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
