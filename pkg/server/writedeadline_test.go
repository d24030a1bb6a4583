package server_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
)

// TestStreamWriteTimeout: a reader that answers pings but never opens flow
// control gets its stream reset once an update has waited the write timeout,
// and the stream's place and memory are released; a stream whose reader
// keeps up lives on, however long it idles between updates, with heartbeats
// or without.
func TestStreamWriteTimeout(t *testing.T) {
	t.Run("heartbeats=off", func(t *testing.T) { testStreamWriteTimeout(t, -1) })
	t.Run("heartbeats=200ms", func(t *testing.T) { testStreamWriteTimeout(t, 200*time.Millisecond) })
}

func testStreamWriteTimeout(t *testing.T, heartbeat time.Duration) {
	ts := startServer(t, server.Config{DebugAddr: "127.0.0.1:0",
		StreamLimit: api.StreamLimitConfig{WriteTimeout: time.Second}, Fanout: fanout.Config{Heartbeat: heartbeat}})
	client := ts.Client()
	ahead := join(t, client, "ahead", "gig").SessionId
	honest := join(t, client, "honest", "gig").SessionId
	stuck := join(t, client, "stuck", "gig").SessionId

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs, err := client.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: honest}))
	if err != nil || !hs.Receive() || hs.Msg().GetPosition() != 2 {
		t.Fatalf("honest stream: %v %v", hs.Msg(), err)
	}

	// A window of 0: the server may send headers, and no data until a
	// WINDOW_UPDATE that never comes.
	c := dialH2(t, ts, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	if err := c.headers(1, "POST", waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, false,
		"content-type", "application/connect+json"); err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"session_id":"` + stuck + `"}`)
	env := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	if err := c.write(func() error { return c.fr.WriteData(1, true, append(env, msg...)) }); err != nil {
		t.Fatal(err)
	}
	if s := c.until("the response headers", func(s h2Seen) bool { return s.typ == http2.FrameHeaders }); s.status != "200" {
		t.Fatalf("stuck stream: %+v", s)
	}
	s := c.until("the stream reset", func(s h2Seen) bool { return s.typ == http2.FrameRSTStream || s.typ == http2.FrameData })
	if s.typ != http2.FrameRSTStream || s.stream != 1 {
		t.Fatalf("stuck stream: %+v, want RST_STREAM on stream 1", s)
	}
	waitFor(t, "the stuck stream released", func() bool {
		st := debugStats(t, ts)
		return st.OpenStreams == 1 && st.Limits.StreamWriteTimeouts == 1
	})

	// The honest stream idled past the timeout and still gets its update.
	if _, err := client.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ahead})); err != nil {
		t.Fatal(err)
	}
	beats := 0
	for hs.Receive() && hs.Msg().GetHeartbeat() {
		beats++
	}
	if hs.Msg().GetPosition() != 1 || hs.Msg().GetHeartbeat() {
		t.Fatalf("honest stream after the timeout: %v %v", hs.Msg(), hs.Err())
	}
	if heartbeat > 0 && beats == 0 {
		t.Fatal("the honest stream idled past the write timeout without a heartbeat")
	}
	// The stuck reader's connection still serves: only its stream ended.
	if err := c.headers(3, "HEAD", "/healthz", true); err != nil {
		t.Fatal(err)
	}
	if s := c.until("a response", func(s h2Seen) bool { return s.typ == http2.FrameHeaders && s.stream == 3 }); s.status != "200" {
		t.Fatalf("the stuck reader's connection: %+v", s)
	}

	// An error reply is a message too, and cannot be held either.
	if err := c.headers(5, "POST", waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, false,
		"content-type", "application/connect+json"); err != nil {
		t.Fatal(err)
	}
	msg = []byte(`{"session_id":"no-such-session"}`)
	env = binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	if err := c.write(func() error { return c.fr.WriteData(5, true, append(env, msg...)) }); err != nil {
		t.Fatal(err)
	}
	s = c.until("the error reply reset", func(s h2Seen) bool { return s.stream == 5 && s.typ == http2.FrameRSTStream })
	if s.err != nil {
		t.Fatal(s.err)
	}
	if n := debugStats(t, ts).Limits.StreamWriteTimeouts; n != 2 {
		t.Fatalf("limits.stream_write_timeouts = %d, want 2", n)
	}
}
