package chaos

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// story builds a hand-made history, one step a millisecond apart, and the
// records its changes would have produced.
type story struct {
	t   testing.TB
	now time.Time
	in  Input
}

func newStory(t testing.TB) *story {
	return &story{t: t, now: time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC), in: Input{
		StoreSeq: map[string]uint64{}, Capacity: map[string]int32{"e": 1},
	}}
}

func (s *story) op(op Op) {
	s.now = s.now.Add(time.Millisecond)
	op.Invoke, op.Return = s.now, s.now.Add(time.Millisecond/2)
	if op.Event == "" {
		op.Event = "e"
	}
	s.in.History = append(s.in.History, op)
}

// record appends event e's next change: sessions as "id:user:ticket".
func (s *story) record(topic string, status waitroomv1.SessionStatus, sessions ...string) {
	s.in.StoreSeq["e"]++
	seq := s.in.StoreSeq["e"]
	ev := &waitroomv1.QueueEvent{Id: fmt.Sprintf("e:%d", seq), Type: topic, EventId: "e", Seq: seq}
	for _, desc := range sessions {
		var id, user string
		var ticket uint64
		parts := strings.Split(desc, ":")
		id, user = parts[0], parts[1]
		fmt.Sscan(parts[2], &ticket)
		ev.Sessions = append(ev.Sessions, &waitroomv1.QueueEventSession{SessionId: id, UserId: user, Ticket: ticket, Status: status})
	}
	value, err := protojson.Marshal(ev)
	if err != nil {
		s.t.Fatal(err)
	}
	rec, err := DecodeRecord(topic, ev.Id, value)
	if err != nil {
		s.t.Fatal(err)
	}
	s.in.Records = append(s.in.Records, rec)
}

// tokenWithID is a checkout token whose only readable claim is its jti.
func tokenWithID(jti string) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"` + jti + `"}`))
	return "eyJhbGciOiJFZERTQSJ9." + payload + ".sig"
}

// valid is a run that breaks no rule. Capacity 1. u1 is admitted and
// completes; u2 leaves while queued; u3's join had an unknown outcome but
// happened, and u3 is admitted and never completes; u4's join had an
// unknown outcome and did not happen.
func valid(t testing.TB) *story {
	s := newStory(t)
	s.op(joined("u1", "s1", 1))
	s.record("queue.joined", queued, "s1:u1:1")
	s.op(joined("u2", "s2", 2))
	s.record("queue.joined", queued, "s2:u2:2")
	s.op(Op{Kind: Join, User: "u3", Outcome: Unknown, Err: "deadline exceeded"})
	s.record("queue.joined", queued, "s3:u3:3")
	s.op(Op{Kind: Join, User: "u4", Outcome: Unknown, Err: "unavailable"})
	s.op(msg("s2", 1, queued, 2))
	s.record("queue.admitted", ready, "s1:u1:1")
	s.op(Op{Kind: Sample, Outcome: OK, Processing: 1, Capacity: 1})
	s.op(msg("s1", 1, ready, 0))
	s.op(Op{Kind: StreamEnd, Session: "s1", Stream: 1, Outcome: OK})
	s.op(msg("s2", 1, queued, 1))
	s.op(Op{Kind: Leave, Session: "s2", Outcome: OK})
	s.record("queue.left", left, "s2:u2:2")
	s.op(msg("s2", 1, left, 0))
	s.op(Op{Kind: StreamEnd, Session: "s2", Stream: 1, Outcome: OK})
	s.op(Op{Kind: Complete, Session: "s1", Outcome: Unknown, Err: "unavailable"})
	s.op(Op{Kind: Complete, Session: "s1", Outcome: OK})
	s.record("queue.completed", completed, "s1:u1:1")
	s.record("queue.admitted", ready, "s3:u3:3")
	s.record("queue.expired", expired, "s3:u3:3")
	for _, f := range []struct {
		id     string
		status waitroomv1.SessionStatus
	}{{"s1", completed}, {"s2", left}, {"s3", expired}} {
		s.op(Op{Kind: FinalStatus, Session: f.id, Outcome: OK, Status: f.status})
		s.op(Op{Kind: FinalStatus, Session: f.id, Outcome: OK, Status: f.status})
		s.op(Op{Kind: FinalStream, Session: f.id, Outcome: OK, Status: f.status})
	}
	return s
}

// joined is an acknowledged join of user returning session at position.
func joined(user, session string, position int32) Op {
	return Op{Kind: Join, User: user, Session: session, Outcome: OK, Status: queued, Position: position}
}

func msg(session string, stream int, status waitroomv1.SessionStatus, position int32) Op {
	op := Op{Kind: StreamMsg, Session: session, Stream: stream, Outcome: OK, Status: status, Position: position}
	if status == ready {
		op.Token = tokenWithID("jti-" + session)
	}
	return op
}

func TestValidHistoryPasses(t *testing.T) {
	r := Check(valid(t).in)
	if r.Failed() {
		t.Fatalf("a valid history fails:\n%s", r)
	}
	if r.Attempted != 4 || r.Acknowledged != 2 || r.Recovered != 1 || r.Absent != 1 {
		t.Errorf("joins: %d attempted, %d acknowledged, %d recovered, %d absent", r.Attempted, r.Acknowledged, r.Recovered, r.Absent)
	}
	if r.Final["completed"] != 1 || r.Final["left"] != 1 || r.Final["expired"] != 1 || r.Records != 8 || r.PeakProcessing != 1 {
		t.Errorf("counted wrong:\n%s", r)
	}
	t.Logf("\n%s", r)
}

// Each history breaks one rule; the checker must find it.
func TestCheckerFinds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(s *story)
		count  func(r *Report) int
	}{
		{"a lost join", func(s *story) {
			s.in.History = slices.DeleteFunc(s.in.History, func(op Op) bool { return op.Session == "s1" && op.Kind == FinalStatus })
			s.op(Op{Kind: FinalStatus, Session: "s1", Outcome: Fail, Err: "not_found: session not found"})
		}, func(r *Report) int { return r.Lost }},
		{"a recovered join that is gone", func(s *story) {
			s.in.History = slices.DeleteFunc(s.in.History, func(op Op) bool { return op.Session == "s3" && op.Kind == FinalStatus })
		}, func(r *Report) int { return r.Lost }},
		{"an acknowledged leave lost", func(s *story) {
			s.op(Op{Kind: Leave, Session: "s1", Outcome: OK})
		}, func(r *Report) int { return r.Lost }},
		{"an acknowledged completion lost", func(s *story) {
			s.op(Op{Kind: Complete, Session: "s3", Outcome: OK})
		}, func(r *Report) int { return r.Lost }},
		{"a session not final", func(s *story) {
			setFinal(s, "s3", queued)
		}, func(r *Report) int { return r.NotFinal }},
		{"two final states", func(s *story) {
			s.op(Op{Kind: FinalStatus, Session: "s3", Outcome: OK, Status: completed})
		}, func(r *Report) int { return r.Conflicting }},
		{"a final state the records do not reach", func(s *story) {
			s.in.Records = s.in.Records[:len(s.in.Records)-1]
			s.in.StoreSeq["e"]--
		}, func(r *Report) int { return r.Conflicting }},
		{"a user with two sessions", func(s *story) {
			s.op(joined("u1", "s5", 2))
			s.record("queue.joined", queued, "s5:u1:4")
			s.record("queue.left", left, "s5:u1:4")
			s.op(Op{Kind: Leave, Session: "s5", Outcome: OK})
			setFinal(s, "s5", left)
		}, func(r *Report) int { return r.Duplicated }},
		{"a session nobody joined", func(s *story) {
			s.record("queue.joined", queued, "s6:ghost:4")
			s.record("queue.left", left, "s6:ghost:4")
			setFinal(s, "s6", left)
		}, func(r *Report) int { return r.Unexpected }},
		{"a session though every join was refused", func(s *story) {
			s.op(Op{Kind: Join, User: "u7", Outcome: Fail, Err: "failed_precondition: event is closed"})
			s.record("queue.joined", queued, "s7:u7:4")
			s.record("queue.admitted", ready, "s7:u7:4")
			s.record("queue.expired", expired, "s7:u7:4")
			setFinal(s, "s7", expired)
		}, func(r *Report) int { return r.Unexpected }},
		{"a leave nobody asked for", func(s *story) {
			s.in.History = slices.DeleteFunc(s.in.History, func(op Op) bool { return op.Kind == Leave })
		}, func(r *Report) int { return r.Unexpected }},
		{"an expiry while queued", func(s *story) {
			s.op(Op{Kind: Join, User: "u8", Outcome: OK, Session: "s8", Status: queued})
			s.record("queue.joined", queued, "s8:u8:4")
			s.record("queue.expired", expired, "s8:u8:4")
			setFinal(s, "s8", expired)
		}, func(r *Report) int { return r.Unexpected }},
		{"a duplicate admission in the records", func(s *story) {
			s.record("queue.admitted", ready, "s1:u1:1")
		}, func(r *Report) int { return r.AdmittedTwice }},
		{"a duplicate admission seen by clients", func(s *story) {
			s.op(Op{Kind: Status, Session: "s1", Outcome: OK, Status: ready, Token: tokenWithID("another")})
		}, func(r *Report) int { return r.AdmittedTwice }},
		{"capacity exceeded in a sample", func(s *story) {
			s.op(Op{Kind: Sample, Outcome: OK, Processing: 2, Capacity: 1})
		}, func(r *Report) int { return r.CapacityExceeded }},
		{"capacity exceeded in the records", func(s *story) {
			// s3 admitted before s1 completed.
			swap(s, 5, 6)
		}, func(r *Report) int { return r.CapacityExceeded }},
		{"an admission out of turn", func(s *story) {
			// s3 (ticket 3) admitted while s1 (ticket 1) waits.
			for i, rec := range s.in.Records {
				if rec.Event.GetSeq() == 4 {
					s.in.Records[i].Event.Sessions[0].SessionId = "s3"
					s.in.Records[i].Event.Sessions[0].Ticket = 3
				}
			}
		}, func(r *Report) int { return r.OutOfOrder }},
		{"a gap in the seqs", func(s *story) {
			s.in.Records = slices.Delete(s.in.Records, 4, 5)
		}, func(r *Report) int { return r.SeqGaps }},
		{"records short of the store's last seq", func(s *story) {
			s.in.StoreSeq["e"] += 2
		}, func(r *Report) int { return r.SeqGaps }},
		{"two records under one id", func(s *story) {
			rec := s.in.Records[0]
			rec.Value += " "
			s.in.Records = append(s.in.Records, rec)
		}, func(r *Report) int { return r.SeqConflicts }},
		{"a stream whose last message is not the final state", func(s *story) {
			for i, op := range s.in.History {
				if op.Kind == StreamMsg && op.Session == "s2" && op.Status == left {
					s.in.History[i].Status = expired
				}
			}
		}, func(r *Report) int { return r.StreamMismatch }},
		{"a stream that stops short of the final state", func(s *story) {
			s.in.History = slices.DeleteFunc(s.in.History, func(op Op) bool {
				return op.Session == "s2" && (op.Kind == StreamEnd || op.Status == left && op.Kind == StreamMsg)
			})
		}, func(r *Report) int { return r.StreamMismatch }},
		{"a stream the server ended early", func(s *story) {
			s.op(msg("s1", 2, queued, 1))
			s.op(Op{Kind: StreamEnd, Session: "s1", Stream: 2, Outcome: OK})
			s.op(msg("s1", 3, completed, 0))
		}, func(r *Report) int { return r.StreamMismatch }},
		{"a stream that goes back", func(s *story) {
			for i, op := range s.in.History {
				if op.Kind == StreamMsg && op.Session == "s2" && op.Position == 1 {
					s.in.History[i].Position = 3
				}
			}
		}, func(r *Report) int { return r.StreamMismatch }},
		{"a stream opened at the end with another state", func(s *story) {
			s.op(Op{Kind: FinalStream, Session: "s2", Outcome: OK, Status: queued})
		}, func(r *Report) int { return r.StreamMismatch }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid(t)
			tc.break_(s)
			r := Check(s.in)
			if tc.count(r) == 0 || !r.Failed() {
				t.Fatalf("not found:\n%s", r)
			}
			t.Logf("\n%s", r)
		})
	}
}

// Copies of a record (at-least-once delivery) are counted, not faulted.
func TestRedeliveryIsAllowed(t *testing.T) {
	s := valid(t)
	s.in.Records = append(s.in.Records, s.in.Records[3], s.in.Records[0])
	r := Check(s.in)
	if r.Failed() || r.Redelivered != 2 {
		t.Fatalf("redelivered records:\n%s", r)
	}
}

func setFinal(s *story, session string, status waitroomv1.SessionStatus) {
	s.in.History = slices.DeleteFunc(s.in.History, func(op Op) bool {
		return op.Session == session && (op.Kind == FinalStatus || op.Kind == FinalStream)
	})
	s.op(Op{Kind: FinalStatus, Session: session, Outcome: OK, Status: status})
}

// swap exchanges the seqs of two records (by index).
func swap(s *story, i, j int) {
	a, b := s.in.Records[i], s.in.Records[j]
	a.Event.Seq, b.Event.Seq = b.Event.Seq, a.Event.Seq
}
