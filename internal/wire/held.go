package wire

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// setHeld says, on a held session's message, that its place is held and
// until when; buf, when not nil, is reused for the time.
func setHeld(m *waitroomv1.PositionUpdate, v queue.View, buf *timestamppb.Timestamp) {
	m.Held, m.HeldUntil = false, nil
	if !v.Session.Held() {
		return
	}
	m.Held = true
	t := v.Session.HeldUntil
	if buf == nil {
		buf = &timestamppb.Timestamp{}
	}
	buf.Seconds, buf.Nanos = t.Unix(), int32(t.Nanosecond())
	m.HeldUntil = buf
}
