package server_test

import (
	"context"
	"os"
	"testing"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
)

func isHeartbeat(m *waitroomv1.PositionUpdate) bool { return m.GetHeartbeat() }

func notHeartbeat(m *waitroomv1.PositionUpdate) bool { return !m.GetHeartbeat() }

// TestStreamHeartbeats: over every protocol, a stream's first message says
// how often it beats; an idle stream then gets heartbeats repeating its last
// state (streamReader.check asserts that of every heartbeat), a change still
// arrives as itself, and /debug/stats counts what was sent.
func TestStreamHeartbeats(t *testing.T) {
	const interval = 100 * time.Millisecond
	ts := startServer(t, server.Config{DebugAddr: "127.0.0.1:0", Fanout: fanout.Config{Heartbeat: interval}})
	received := 0
	for _, p := range protocols() {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(ts)
			event := "beats-" + p.name
			ahead := join(t, c, "ahead", event).SessionId
			me := join(t, c, "me", event).SessionId
			r := openStream(t, c, me)
			first := r.next()
			if first.GetHeartbeat() || first.GetHeartbeatInterval().AsDuration() != interval || !queued(2, 2)(first) {
				t.Fatalf("first message %v: want position 2 of 2 with heartbeat_interval %v", first, interval)
			}
			// Nothing changes: the next message is a heartbeat, then another.
			for range 2 {
				if m := r.next(); !m.GetHeartbeat() || !queued(2, 2)(m) {
					t.Fatalf("idle stream sent %v, want a heartbeat at position 2 of 2", m)
				}
				received++
			}
			if _, err := c.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ahead})); err != nil {
				t.Fatal(err)
			}
			if m := r.until("the change", notHeartbeat); !queued(1, 1)(m) || m.HeartbeatInterval != nil {
				t.Fatalf("after the leave: %v, want position 1 of 1 with no heartbeat_interval", m)
			}
			if m := r.until("a heartbeat after the change", isHeartbeat); !queued(1, 1)(m) {
				t.Fatalf("heartbeat after the change: %v", m)
			}
			received++
		})
	}
	st := debugStats(t, ts)
	if st.HeartbeatsSent < int64(received) {
		t.Fatalf("heartbeats_sent = %d, want at least the %d received", st.HeartbeatsSent, received)
	}
	if _, err := os.Stat("/proc/self/io"); err == nil && st.WrittenBytes == 0 {
		t.Fatal("written_bytes = 0 after serving streams")
	}
}

// TestStreamHeartbeatsOff: QUEUE_STREAM_HEARTBEAT=0 turns them off: no
// heartbeat_interval on the first message, and an idle stream's next
// message is the next change.
func TestStreamHeartbeatsOff(t *testing.T) {
	cfg, err := server.ConfigFromEnv(func(k string) string {
		if k == "QUEUE_STREAM_HEARTBEAT" {
			return "0"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DebugAddr = "127.0.0.1:0"
	// The periodic pass as often as with a 100ms heartbeat: it finds no
	// heartbeat to send.
	cfg.Fanout.Resync = fanout.MinResync
	ts := startServer(t, cfg)
	c := ts.Client()
	ahead := join(t, c, "ahead", "quiet").SessionId
	me := join(t, c, "me", "quiet").SessionId
	r := openStream(t, c, me)
	if first := r.next(); first.HeartbeatInterval != nil || !queued(2, 2)(first) {
		t.Fatalf("first message %v: want position 2 of 2 and no heartbeat_interval", first)
	}
	// Idle for ten passes of the view's periodic check.
	time.Sleep(10 * fanout.MinResync)
	if _, err := c.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ahead})); err != nil {
		t.Fatal(err)
	}
	if m := r.next(); m.GetHeartbeat() || !queued(1, 1)(m) {
		t.Fatalf("with heartbeats off: %v, want the change to position 1 of 1", m)
	}
	if n := debugStats(t, ts).HeartbeatsSent; n != 0 {
		t.Fatalf("heartbeats_sent = %d, want 0", n)
	}
}
