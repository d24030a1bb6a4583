package chaos

import (
	"maps"
	"slices"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// endsStream reports whether a stream ends after sending the status.
func endsStream(s waitroomv1.SessionStatus) bool { return s == ready || terminal(s) }

func stage(s waitroomv1.SessionStatus) int {
	switch {
	case s == queued:
		return 1
	case s == ready:
		return 2
	case terminal(s):
		return 3
	}
	return 0
}

// shows reports whether a stream's last message is the final state: the
// final state itself, or READY for a session that then completed or expired
// in checkout (a stream ends once it sends READY).
func shows(last, final waitroomv1.SessionStatus) bool {
	return last == final || (last == ready && (final == completed || final == expired))
}

// checkStreams checks every stream of the session: it never went backwards
// (a lower status, a later place in the queue, anything after its last
// message), one the server ended ended on a final message that is the
// session's final state, the client's last stream got that far, and a
// stream opened once the run settled sends exactly the final state.
func (c *checker) checkStreams(s *session, final waitroomv1.SessionStatus) {
	numbers := slices.Collect(maps.Keys(s.streams))
	for n := range s.ends {
		if _, ok := s.streams[n]; !ok {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	c.r.Streams += len(numbers)
	lastWithMsgs := 0
	for _, n := range numbers {
		msgs := s.streams[n]
		if len(msgs) == 0 {
			continue
		}
		lastWithMsgs = n
		c.checkOrder(s, n, msgs)
		last := msgs[len(msgs)-1].Status
		if end, ok := s.ends[n]; ok && end.Outcome == OK && !endsStream(last) {
			c.r.anomaly(&c.r.StreamMismatch, "%s stream %d: the server ended it after %s", s.id, n, statusName(last))
		}
		if endsStream(last) && !shows(last, final) {
			c.r.anomaly(&c.r.StreamMismatch, "%s stream %d: last message %s, final state %s", s.id, n, statusName(last), statusName(final))
		}
	}
	if lastWithMsgs > 0 {
		msgs := s.streams[lastWithMsgs]
		if last := msgs[len(msgs)-1].Status; !endsStream(last) {
			c.r.anomaly(&c.r.StreamMismatch, "%s: its last stream (%d) stopped at %s, final state %s", s.id, lastWithMsgs, statusName(last), statusName(final))
		}
	}
	for _, op := range s.finalStreams {
		if op.Outcome == OK && op.Status != final {
			c.r.anomaly(&c.r.StreamMismatch, "%s: a stream opened at the end sent %s, final state %s", s.id, statusName(op.Status), statusName(final))
		}
	}
}

// checkOrder checks that one stream's messages never went backwards.
func (c *checker) checkOrder(s *session, n int, msgs []Op) {
	for i := 1; i < len(msgs); i++ {
		prev, cur := msgs[i-1], msgs[i]
		switch {
		case endsStream(prev.Status):
			c.r.anomaly(&c.r.StreamMismatch, "%s stream %d: %s after the final %s", s.id, n, statusName(cur.Status), statusName(prev.Status))
			return
		case stage(cur.Status) < stage(prev.Status):
			c.r.anomaly(&c.r.StreamMismatch, "%s stream %d: went back from %s to %s", s.id, n, statusName(prev.Status), statusName(cur.Status))
			return
		case cur.Status == queued && prev.Status == queued && cur.Position > prev.Position:
			c.r.anomaly(&c.r.StreamMismatch, "%s stream %d: went back from position %d to %d", s.id, n, prev.Position, cur.Position)
			return
		}
	}
}
