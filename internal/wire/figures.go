package wire

import (
	"math"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// EventStats are an event's live figures as WatchEvent sends them.
func EventStats(f queue.Figures) *waitroomv1.EventStats {
	p := &waitroomv1.EventStats{
		EventId:            f.Event.ID,
		At:                 timestamppb.New(f.At.Truncate(time.Millisecond)),
		State:              eventState(f.Event.State),
		QueueLength:        clamp32(f.Stats.QueueLength),
		Processing:         clamp32(f.Stats.Processing),
		MaxConcurrent:      int32(min(f.Event.MaxConcurrent, math.MaxInt32)),
		AdmissionRateLimit: f.Event.AdmissionRate,
		JoinedTotal:        f.Joined,
		AdmittedTotal:      f.Admitted,
		CompletedTotal:     f.Completed,
		ExpiredTotal:       f.Expired,
		LeftTotal:          f.Left,
		AdmittedPerSecond:  f.AdmittedPerSecond,
		WaitSamples:        clamp32(int64(f.WaitSamples)),
		OpenStreams:        f.OpenStreams,
		ReplicasReporting:  clamp32(int64(f.Replicas)),
	}
	if f.WaitSamples > 0 {
		// To the millisecond, as the Redis store keeps them.
		p.WaitP50 = durationpb.New(f.WaitP50.Truncate(time.Millisecond))
		p.WaitP90 = durationpb.New(f.WaitP90.Truncate(time.Millisecond))
	}
	return p
}
