package server

import (
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// presenceGrace reads QUEUE_PRESENCE_GRACE: 0 turns presence-aware
// admission off (the head is admitted, present or not); otherwise a
// duration of at least queue.MinPresenceGrace.
func presenceGrace(dst *time.Duration) func(string) error {
	at := durationAtLeast(dst, queue.MinPresenceGrace)
	return func(s string) error {
		if s == "0" || s == "0s" {
			*dst = -1
			return nil
		}
		return at(s)
	}
}
