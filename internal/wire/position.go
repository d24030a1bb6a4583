package wire

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// PositionUpdate is a session's view as GetQueueStatus and
// StreamQueuePosition send it.
func PositionUpdate(v queue.View) *waitroomv1.PositionUpdate {
	m := &waitroomv1.PositionUpdate{
		SessionId:         v.Session.ID,
		Position:          count(v.Position),
		QueueLength:       count(v.QueueLength),
		Status:            SessionStatus(v.Session.Status),
		UpdatedAt:         updatedAt(v.UpdatedAt),
		CheckoutToken:     v.CheckoutToken,
		CheckoutUrl:       v.CheckoutURL,
		EstimatedWait:     estimatedWait(v.EstimatedWait),
		Heartbeat:         v.Heartbeat,
		HeartbeatInterval: heartbeatInterval(v.HeartbeatInterval),
		FairStart:         FairStart(v.FairStart),
		Lane:              v.Session.Lane,
		MovedBack:         v.MovedBack,
	}
	setHeld(m, v, nil)
	return m
}

// heartbeatInterval is unset when the stream sends no heartbeats.
func heartbeatInterval(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// JoinQueueResponse is a session's view as JoinQueue answers it; created
// says whether the call made the session.
func JoinQueueResponse(v queue.View, created bool) *waitroomv1.JoinQueueResponse {
	return &waitroomv1.JoinQueueResponse{
		SessionId:     v.Session.ID,
		Position:      count(v.Position),
		QueueLength:   count(v.QueueLength),
		Status:        SessionStatus(v.Session.Status),
		EstimatedWait: estimatedWait(v.EstimatedWait),
		UpdatedAt:     updatedAt(v.UpdatedAt),
		CheckoutToken: v.CheckoutToken,
		CheckoutUrl:   v.CheckoutURL,
		Created:       created,
		FairStart:     FairStart(v.FairStart),
		Lane:          v.Session.Lane,
	}
}

// PositionUpdateBuf is one stream's reusable PositionUpdate: a stream's Send
// marshals the message before returning, so the next one can overwrite it,
// which saves the allocations PositionUpdate makes for every message of
// every stream. The zero value is ready to use.
type PositionUpdateBuf struct {
	msg    waitroomv1.PositionUpdate
	pos, n int32
	at     timestamppb.Timestamp
	wait   durationpb.Duration
	held   timestamppb.Timestamp
	beat   durationpb.Duration
}

// Fill sets the buffer's message to exactly what PositionUpdate(v) returns,
// and returns it. The message is valid until the next Fill.
func (b *PositionUpdateBuf) Fill(v queue.View) *waitroomv1.PositionUpdate {
	m := &b.msg
	b.pos, b.n = clamp32(v.Position), clamp32(v.QueueLength)
	t := v.UpdatedAt.Truncate(time.Millisecond)
	b.at.Seconds, b.at.Nanos = t.Unix(), int32(t.Nanosecond())
	m.SessionId = v.Session.ID
	m.Position, m.QueueLength = &b.pos, &b.n
	m.Status = SessionStatus(v.Session.Status)
	m.UpdatedAt = &b.at
	m.CheckoutToken, m.CheckoutUrl = v.CheckoutToken, v.CheckoutURL
	m.EstimatedWait = nil
	if d := v.EstimatedWait; d > 0 {
		b.wait.Seconds, b.wait.Nanos = int64(d/time.Second), int32(d%time.Second)
		m.EstimatedWait = &b.wait
	}
	setHeld(m, v, &b.held)
	m.Heartbeat = v.Heartbeat
	m.HeartbeatInterval = nil
	if d := v.HeartbeatInterval; d > 0 {
		b.beat.Seconds, b.beat.Nanos = int64(d/time.Second), int32(d%time.Second)
		m.HeartbeatInterval = &b.beat
	}
	m.FairStart = FairStart(v.FairStart) // rare: allocated afresh
	m.Lane, m.MovedBack = v.Session.Lane, v.MovedBack
	return m
}
