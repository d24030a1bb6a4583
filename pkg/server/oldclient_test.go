package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	oldv1 "github.com/waitroom/waitroom/internal/oldproto/gen/oldwaitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
)

// oldReader is a position stream read by a client generated from
// waitroom.proto as it was before PositionUpdate's fields 9-13
// (internal/oldproto): the old message types on the real procedure path.
type oldReader struct {
	t    testing.TB
	msgs chan *oldv1.PositionUpdate
	done chan error
}

func openOldStream(t testing.TB, p protocol, base, sessionID string) *oldReader {
	t.Helper()
	c := connect.NewClient[oldv1.StreamQueuePositionRequest, oldv1.PositionUpdate](
		p.http, base+waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, p.opts...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := c.CallServerStream(ctx, connect.NewRequest(&oldv1.StreamQueuePositionRequest{SessionId: sessionID}))
	if err != nil {
		t.Fatalf("old client: StreamQueuePosition(%s): %v", sessionID, err)
	}
	r := &oldReader{t: t, msgs: make(chan *oldv1.PositionUpdate, 1000), done: make(chan error, 1)}
	go func() {
		defer close(r.msgs)
		for st.Receive() {
			r.msgs <- st.Msg()
		}
		r.done <- st.Err()
		st.Close()
	}()
	return r
}

// next is the next message the old client decoded; a decoding error ends
// the stream with it, which fails the test here.
func (r *oldReader) next() *oldv1.PositionUpdate {
	r.t.Helper()
	select {
	case m, ok := <-r.msgs:
		if !ok {
			r.t.Fatalf("old client: stream ended: %v", <-r.done)
		}
		return m
	case <-time.After(waitLimit):
		r.t.Fatalf("old client: no message within %v", waitLimit)
	}
	return nil
}

// until reads until a message has status st.
func (r *oldReader) until(st oldv1.SessionStatus) *oldv1.PositionUpdate {
	r.t.Helper()
	for {
		if m := r.next(); m.GetStatus() == st {
			return m
		}
	}
}

// ended asserts the stream ended cleanly, every message decoded.
func (r *oldReader) ended() {
	r.t.Helper()
	for range r.msgs {
	}
	if err := <-r.done; err != nil {
		r.t.Fatalf("old client: stream ended with %v", err)
	}
}

// asNew is what the old client kept of a message, read with today's types:
// the binary protocols keep the fields it does not know as unknown fields.
func asNew(t testing.TB, m *oldv1.PositionUpdate) *waitroomv1.PositionUpdate {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var n waitroomv1.PositionUpdate
	if err := proto.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func oldQueued(m *oldv1.PositionUpdate, pos, n int32) bool {
	return m.GetStatus() == oldv1.SessionStatus_SESSION_STATUS_QUEUED && m.GetPosition() == pos && m.GetQueueLength() == n
}

// TestOldClientDecodesEveryStreamMessage: a client generated before the
// heartbeat fields existed decodes every kind of message a stream sends, over
// every protocol: the first state (with heartbeat_interval), heartbeats, a
// change, READY with its token, LEFT, and COMPLETED on a finished session.
// Over the binary protocols it keeps the new fields as unknown fields.
func TestOldClientDecodesEveryStreamMessage(t *testing.T) {
	const interval = 100 * time.Millisecond
	ts := startServer(t, server.Config{Fanout: fanout.Config{Heartbeat: interval}})
	for _, p := range protocols() {
		t.Run(p.name, func(t *testing.T) {
			binary := p.name != "connect-json-http1"
			c := p.client(ts)
			event := "old-" + p.name
			first := join(t, c, "first", event).SessionId
			me := join(t, c, "me", event).SessionId
			leaver := join(t, c, "leaver", event).SessionId
			rFirst := openOldStream(t, p, ts.URL, first)
			rMe := openOldStream(t, p, ts.URL, me)
			rLeaver := openOldStream(t, p, ts.URL, leaver)

			m := rMe.next()
			if !oldQueued(m, 2, 3) || m.GetUpdatedAt() == nil || m.GetSessionId() != me {
				t.Fatalf("old client, first message: %v", m)
			}
			if binary && asNew(t, m).GetHeartbeatInterval().AsDuration() != interval {
				t.Fatalf("old client dropped heartbeat_interval: %v", asNew(t, m))
			}
			// Nothing changes: the next message is a heartbeat, which the old
			// client reads as the same state again.
			m = rMe.next()
			if !oldQueued(m, 2, 3) || m.GetSessionId() != me {
				t.Fatalf("old client, heartbeat: %v", m)
			}
			if binary && !asNew(t, m).GetHeartbeat() {
				t.Fatalf("old client, heartbeat: %v, want heartbeat kept as an unknown field", asNew(t, m))
			}

			if _, err := c.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: leaver})); err != nil {
				t.Fatal(err)
			}
			if m := rLeaver.until(oldv1.SessionStatus_SESSION_STATUS_LEFT); m.GetPosition() != 0 {
				t.Fatalf("old client, LEFT: %v", m)
			}
			rLeaver.ended()
			for m = rMe.next(); !oldQueued(m, 2, 2); m = rMe.next() {
				if !oldQueued(m, 2, 3) {
					t.Fatalf("old client, waiting for position 2 of 2: %v", m)
				}
			}

			process(t, ts) // first is admitted
			m = rFirst.until(oldv1.SessionStatus_SESSION_STATUS_READY)
			if m.GetCheckoutToken() == "" || m.GetCheckoutUrl() == "" {
				t.Fatalf("old client, READY: %v", m)
			}
			rFirst.ended()
			if _, err := c.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: first})); err != nil {
				t.Fatal(err)
			}
			rDone := openOldStream(t, p, ts.URL, first)
			if m := rDone.next(); m.GetStatus() != oldv1.SessionStatus_SESSION_STATUS_COMPLETED {
				t.Fatalf("old client, a completed session's stream: %v", m)
			}
			rDone.ended()
			process(t, ts) // me is admitted
			if m := rMe.until(oldv1.SessionStatus_SESSION_STATUS_READY); m.GetCheckoutToken() == "" {
				t.Fatalf("old client, READY: %v", m)
			}
			rMe.ended()
		})
	}
}

// TestOldClientDecodesEveryNewField: a PositionUpdate with every field
// added since the old client was generated, including those the server
// does not send yet (fair_start, held, held_until), decodes with the old
// types in binary and in JSON as Connect reads it (unknown fields
// discarded), with the old fields intact; in binary the new fields survive
// the old client untouched.
func TestOldClientDecodesEveryNewField(t *testing.T) {
	pos, n := int32(40), int32(900)
	at := timestamppb.New(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	full := &waitroomv1.PositionUpdate{
		SessionId: "gig~0123456789abcdefghjkmnpqrs", Position: &pos, QueueLength: &n,
		Status: waitroomv1.SessionStatus_SESSION_STATUS_QUEUED, UpdatedAt: at,
		EstimatedWait: durationpb.New(90 * time.Second),
		Heartbeat:     true, HeartbeatInterval: durationpb.New(20 * time.Second),
		FairStart: &waitroomv1.FairStart{SaleStartsAt: at, SeedCommitment: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Placed: true, Seed: "74657374"},
		Held: true, HeldUntil: timestamppb.New(at.AsTime().Add(10 * time.Minute)),
		Lane: "vip", MovedBack: true,
	}
	b, err := proto.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var old oldv1.PositionUpdate
	if err := proto.Unmarshal(b, &old); err != nil {
		t.Fatalf("old client, binary: %v", err)
	}
	check := func(how string, m *oldv1.PositionUpdate) {
		t.Helper()
		if m.GetSessionId() != full.GetSessionId() || !oldQueued(m, pos, n) || !m.GetUpdatedAt().AsTime().Equal(at.AsTime()) ||
			m.GetEstimatedWait().AsDuration() != 90*time.Second {
			t.Fatalf("old client, %s: %v", how, m)
		}
	}
	check("binary", &old)
	if back := asNew(t, &old); !proto.Equal(back, full) {
		t.Fatalf("old client lost new fields: %v, want %v", back, full)
	}
	j, err := protojson.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var oldJSON oldv1.PositionUpdate
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(j, &oldJSON); err != nil {
		t.Fatalf("old client, JSON %s: %v", j, err)
	}
	check("JSON", &oldJSON)
}
