package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
	"github.com/waitroom/waitroom/pkg/token"
)

// TestFlowEveryProtocol drives the whole visitor flow — join, stream, leave,
// admission with a token, checkout, streams on ended sessions — through the
// generated client over every protocol the server promises.
func TestFlowEveryProtocol(t *testing.T) {
	testFlow(t, startServer(t, server.Config{}))
}

// testFlow is the visitor flow over every protocol against one server.
func testFlow(t *testing.T, ts *servertest.Server) {
	for _, p := range protocols() {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(ts)
			ctx := context.Background()
			event := "concert-" + p.name

			// Join, and join again: the same session and place.
			a := join(t, c, "user1", event)
			if a.GetPosition() != 1 || a.GetQueueLength() != 1 || a.Status != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED || !a.Created {
				t.Fatalf("first join: %v", a)
			}
			if again := join(t, c, "user1", event); again.SessionId != a.SessionId || again.GetPosition() != 1 || again.Created {
				t.Fatalf("repeated join: %v, want session %s at 1, not created", again, a.SessionId)
			}

			// The stream starts with the current state, then follows joins.
			sa := openStream(t, c, a.SessionId)
			if m := sa.next(); !queued(1, 1)(m) || m.SessionId != a.SessionId {
				t.Fatalf("first stream message: %v", m)
			}
			b := join(t, c, "user2", event)
			sa.until("queue length 2", queued(1, 2))
			cc := join(t, c, "user3", event)
			sa.until("queue length 3", queued(1, 3))
			if b.GetPosition() != 2 || cc.GetPosition() != 3 {
				t.Fatalf("positions %d, %d; want 2, 3", b.GetPosition(), cc.GetPosition())
			}
			sc := openStream(t, c, cc.SessionId)
			sc.until(describe(3, 3), queued(3, 3))

			// The leaver's own stream says LEFT and ends; the others move up.
			sb := openStream(t, c, b.SessionId)
			sb.until(describe(2, 3), queued(2, 3))
			if _, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: b.SessionId})); err != nil {
				t.Fatal(err)
			}
			if m := sb.until("LEFT", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_LEFT)); m.GetPosition() != 0 {
				t.Fatalf("LEFT message %v, want position 0", m)
			}
			sb.ended()
			sc.until(describe(2, 2), queued(2, 2))
			sa.until(describe(1, 2), queued(1, 2))
			_, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: b.SessionId}))
			wantCode(t, err, connect.CodeFailedPrecondition, "not queued")
			if st := status(t, c, cc.SessionId); !queued(2, 2)(st) {
				t.Fatalf("GetQueueStatus: %v", st)
			}

			// Admission: READY with a token and URL, then the stream ends.
			process(t, ts)
			ready := sa.until("READY", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
			if ready.GetPosition() != 0 || ready.CheckoutToken == "" || ready.CheckoutUrl != "/checkout" {
				t.Fatalf("READY message %v", ready)
			}
			sa.ended()
			sc.until(describe(1, 1), queued(1, 1))
			if st := status(t, c, a.SessionId); st.Status != waitroomv1.SessionStatus_SESSION_STATUS_READY || st.CheckoutToken == "" {
				t.Fatalf("GetQueueStatus after admission: %v", st)
			}

			// The token verifies against the published JWKS.
			v, err := token.NewVerifier(ts.URL+"/.well-known/jwks.json", token.VerifierConfig{Issuer: "waitroom", Audience: "checkout"})
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Verify(ctx, ready.CheckoutToken)
			if err != nil {
				t.Fatalf("token does not verify: %v", err)
			}
			if claims.Subject != "user1" || claims.SessionID != a.SessionId || claims.EventID != event {
				t.Fatalf("claims %+v", claims)
			}

			// Capacity 1: nobody else is admitted until checkout completes.
			process(t, ts)
			if st := status(t, c, cc.SessionId); !queued(1, 1)(st) {
				t.Fatalf("admitted past capacity: %v", st)
			}
			if _, err := c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: ready.CheckoutToken})); err != nil {
				t.Fatal(err)
			}
			_, err = c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: a.SessionId}))
			wantCode(t, err, connect.CodeFailedPrecondition, "not admitted")
			process(t, ts)
			sc.until("READY", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
			sc.ended()

			// Streams opened on ended sessions send that state once and end.
			for id, want := range map[string]waitroomv1.SessionStatus{
				a.SessionId: waitroomv1.SessionStatus_SESSION_STATUS_COMPLETED,
				b.SessionId: waitroomv1.SessionStatus_SESSION_STATUS_LEFT,
			} {
				r := openStream(t, c, id)
				if m := r.next(); m.Status != want || m.GetPosition() != 0 {
					t.Fatalf("stream on ended session: %v, want %v", m, want)
				}
				r.ended()
			}
		})
	}
}

// TestErrorsEveryRPC checks each RPC's answers to bad input and unknown
// sessions, over every protocol, and that bad input changes nothing.
func TestErrorsEveryRPC(t *testing.T) {
	ts := startServer(t, server.Config{})
	for _, p := range protocols() {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(ts)
			ctx := context.Background()
			event := "errors-" + p.name
			unknown := event + "~" + strings.Repeat("a", 26)
			joinReq := func(user, ev string) error {
				_, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: ev}))
				return err
			}
			wantCode(t, joinReq("", event), connect.CodeInvalidArgument, "user_id")
			wantCode(t, joinReq("u", ""), connect.CodeInvalidArgument, "event_id")
			wantCode(t, joinReq(strings.Repeat("u", 129), event), connect.CodeInvalidArgument, "user_id")
			wantCode(t, joinReq("u", strings.Repeat("e", 65)), connect.CodeInvalidArgument, "event_id")
			wantCode(t, joinReq("u s", event), connect.CodeInvalidArgument, "user_id")
			wantCode(t, joinReq("u", "a/b"), connect.CodeInvalidArgument, "event_id")
			wantCode(t, joinReq("u", "a~b"), connect.CodeInvalidArgument, "event_id")

			for name, call := range map[string]func(id string) error{
				"GetQueueStatus": func(id string) error {
					_, err := c.GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: id}))
					return err
				},
				"LeaveQueue": func(id string) error {
					_, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: id}))
					return err
				},
				"CompleteCheckout": func(id string) error {
					_, err := c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: id}))
					return err
				},
				"StreamQueuePosition": func(id string) error {
					st, err := c.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: id}))
					if err != nil {
						return err
					}
					defer st.Close()
					for st.Receive() {
						t.Errorf("stream on %q sent %v", id, st.Msg())
					}
					return st.Err()
				},
			} {
				t.Run(name, func(t *testing.T) {
					wantCode(t, call(""), connect.CodeInvalidArgument, "session_id")
					wantCode(t, call("not-a-session"), connect.CodeInvalidArgument, "session_id")
					wantCode(t, call(strings.Repeat("x", 300)), connect.CodeInvalidArgument, "session_id")
					wantCode(t, call(unknown), connect.CodeNotFound, "session not found")
				})
			}

			_, err := c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: "not.a.jwt"}))
			wantCode(t, err, connect.CodeInvalidArgument, "checkout_token")
			s := join(t, c, "someone", event)
			_, err = c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: s.SessionId}))
			wantCode(t, err, connect.CodeFailedPrecondition, "not admitted")
			_, err = c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: s.SessionId, CheckoutToken: "x"}))
			wantCode(t, err, connect.CodeInvalidArgument, "not both")

			// None of the rejected calls changed anything: one session queued.
			if st := status(t, c, s.SessionId); !queued(1, 1)(st) {
				t.Fatalf("state changed by bad input: %v", st)
			}
		})
	}
}

// TestExpiredSession checks expiry end to end: the stream says EXPIRED and
// ends, and unary calls answer NotFound "session expired".
func TestExpiredSession(t *testing.T) {
	ts := startServer(t, server.Config{Queue: queue.Config{SessionTTL: time.Second, DefaultMaxConcurrent: 1}})
	c := protocols()[0].client(ts)
	s := join(t, c, "late", "expiry")
	r := openStream(t, c, s.SessionId)
	r.next()
	time.Sleep(1100 * time.Millisecond) // the TTL is wall-clock time in the store
	// Pause admission so the session cannot be admitted instead of expiring.
	if _, err := ts.Service().PutEvent(context.Background(), pausedEvent("expiry")); err != nil {
		t.Fatal(err)
	}
	process(t, ts)
	r.until("EXPIRED", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_EXPIRED))
	r.ended()
	_, err := c.GetQueueStatus(context.Background(), connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: s.SessionId}))
	wantCode(t, err, connect.CodeNotFound, "session expired")
	_, err = c.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: s.SessionId}))
	wantCode(t, err, connect.CodeNotFound, "session expired")
	// A new join after expiry is a new session at the back of the queue.
	if again := join(t, c, "late", "expiry"); again.SessionId == s.SessionId || !again.Created {
		t.Fatalf("join after expiry returned %v", again)
	}
}
