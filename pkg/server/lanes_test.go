package server_test

import (
	"time"

	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/server"
)

const laneAdminToken = "lane-admin-secret-0123456789abcdef"

// joinLane calls JoinQueue with bearer, asking for lane in the request.
func joinLane(c waitroomv1connect.WaitroomServiceClient, bearer, user, event, lane string) (*waitroomv1.JoinQueueResponse, error) {
	req := connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: event, Lane: lane})
	if bearer != "" {
		req.Header().Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.JoinQueue(context.Background(), req)
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// TestLanesEndToEnd: an operator gives an event lanes; a visitor's lane
// comes from their join token, a backend's from its request, never from a
// visitor's request; positions follow the weighted round-robin, and a
// stream whose place moves back behind a growing higher lane says so. On
// every store; on Redis the visitors use a second replica, whose streams
// learn the lanes from the change feed.
func TestLanesEndToEnd(t *testing.T) {
	for name, store := range adminStores(t) {
		t.Run(name, func(t *testing.T) { testLanesEndToEnd(t, store(), name == "redis") })
	}
}

func testLanesEndToEnd(t *testing.T, base server.Config, twoReplicas bool) {
	s := newShop(t)
	base.AdminToken = laneAdminToken
	base.Fanout.Resync = 200 * time.Millisecond // how soon a change of lanes alone reaches streams
	cfg := s.tokenMode(base)
	ts := startServer(t, cfg)
	visitors := ts
	if twoReplicas {
		visitors = startServer(t, cfg)
	}
	ctx := context.Background()
	admin := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithInterceptors(bearer(laneAdminToken)))
	const event = "lane-gala"
	bad := []*waitroomv1.Lane{{Name: "vip", Weight: 0}}
	_, err := admin.PutEvent(ctx, connect.NewRequest(&waitroomv1.PutEventRequest{Event: &waitroomv1.Event{EventId: event, Lanes: bad}}))
	wantCode(t, err, connect.CodeInvalidArgument, "lanes")
	ls := []*waitroomv1.Lane{{Name: "general", Weight: 1}, {Name: "vip", Weight: 3}}
	put, err := admin.PutEvent(ctx, connect.NewRequest(&waitroomv1.PutEventRequest{Event: &waitroomv1.Event{EventId: event, MaxConcurrent: 1, Lanes: ls}}))
	if err != nil || len(put.Msg.Event.GetLanes()) != 2 || put.Msg.Event.GetLanes()[1].GetWeight() != 3 {
		t.Fatalf("PutEvent(lanes) = %v, %v", put, err)
	}
	c := protocols()[0].client(visitors)

	// Two general visitors (the default lane), by tokens without a lane.
	g1, err := joinLane(c, s.token("g1", nil), "", event, "")
	if err != nil || g1.GetLane() != "general" || g1.GetPosition() != 1 {
		t.Fatalf("join without a lane: %v, %v", g1, err)
	}
	g2, err := joinLane(c, s.token("g2", nil), "", event, "")
	if err != nil || g2.GetPosition() != 2 {
		t.Fatalf("second general join: %v, %v", g2, err)
	}
	st := openStream(t, c, g2.SessionId)
	if m := st.next(); m.GetLane() != "general" || m.GetPosition() != 2 {
		t.Fatalf("first stream message %v", m)
	}

	// A visitor cannot name a lane; a token's lane claim can, if the event has it.
	_, err = joinLane(c, s.token("v0", nil), "", event, "vip")
	wantCode(t, err, connect.CodePermissionDenied, "lane")
	_, err = joinLane(c, s.token("v0", jwt.MapClaims{"lane": "gold"}), "", event, "")
	wantCode(t, err, connect.CodeInvalidArgument, "lane")
	v1, err := joinLane(c, s.token("v1", jwt.MapClaims{"lane": "vip"}), "", event, "")
	if err != nil || v1.GetLane() != "vip" || v1.GetPosition() != 1 {
		t.Fatalf("join with a vip token: %v, %v", v1, err)
	}
	// The round-robin from zeros over general:1, vip:3 with one general
	// and one vip waiting draws vip, then general: g2, third, moves back.
	m := st.until("moved back", func(m *waitroomv1.PositionUpdate) bool { return m.GetPosition() == 3 })
	if !m.GetMovedBack() {
		t.Fatalf("position 2 → 3 without moved_back: %v", m)
	}
	// A backend names the lane in its request.
	v2, err := joinLane(c, serviceToken, "v2", event, "vip")
	if err != nil || v2.GetLane() != "vip" {
		t.Fatalf("backend join into vip: %v, %v", v2, err)
	}
	// Draws from zeros over general:1, vip:3 with two of each waiting:
	// vip, then general (a tie goes to the first lane), vip, general.
	want := map[string]int32{v1.SessionId: 1, g1.SessionId: 2, v2.SessionId: 3, g2.SessionId: 4}
	for id, pos := range want {
		if got := status(t, c, id); got.GetPosition() != pos || got.GetQueueLength() != 4 {
			t.Fatalf("%s at %d of %d, want %d of 4", id, got.GetPosition(), got.GetQueueLength(), pos)
		}
	}
	st.until("position 4", func(m *waitroomv1.PositionUpdate) bool { return m.GetPosition() == 4 && m.GetMovedBack() })

	// Reweighting the lanes alone moves positions with no change on the
	// feed: the stream shows it at its view's next check of the event.
	reweigh := func(ls []*waitroomv1.Lane) {
		t.Helper()
		if _, err := admin.UpdateEvent(ctx, connect.NewRequest(&waitroomv1.UpdateEventRequest{
			Event: &waitroomv1.Event{EventId: event, Lanes: ls}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"lanes"}}})); err != nil {
			t.Fatal(err)
		}
	}
	reweigh([]*waitroomv1.Lane{{Name: "general", Weight: 3}, {Name: "vip", Weight: 1}})
	moved := status(t, c, g2.SessionId).GetPosition()
	if moved == 4 {
		t.Fatal("reweighting the lanes left g2 at 4: the step shows nothing")
	}
	st.until("the reweighted position", func(m *waitroomv1.PositionUpdate) bool { return m.GetPosition() == moved })
	reweigh(ls) // back to the draws from zeros above
	st.until("position 4 again", func(m *waitroomv1.PositionUpdate) bool { return m.GetPosition() == 4 && m.GetMovedBack() })

	// Dropping a lane with waiting sessions is refused.
	_, err = admin.UpdateEvent(ctx, connect.NewRequest(&waitroomv1.UpdateEventRequest{
		Event: &waitroomv1.Event{EventId: event, Lanes: ls[:1]}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"lanes"}}}))
	wantCode(t, err, connect.CodeFailedPrecondition, "lane")

	// Admission follows the same draws.
	for _, id := range []string{v1.SessionId, g1.SessionId, v2.SessionId} {
		process(t, ts)
		if got := status(t, c, id); got.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_READY {
			t.Fatalf("%s is %v, want READY next", id, got.GetStatus())
		}
		if _, err := c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: id})); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLaneRefusedInOpenMode: without join tokens, nobody can name a lane.
func TestLaneRefusedInOpenMode(t *testing.T) {
	ts := startServer(t, server.Config{})
	_, err := joinLane(protocols()[0].client(ts), "", "alice", "open-gala", "vip")
	wantCode(t, err, connect.CodePermissionDenied, "lane")
}
