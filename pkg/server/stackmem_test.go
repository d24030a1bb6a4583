//go:build !race

// The race detector widens frames and doubles the stack guard, so its
// stacks say nothing of the sizes this test guards.

package server_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/protobuf/proto"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
)

// TestStreamStackPerStream: an open position stream's goroutine idles on an
// 8 KiB stack, not 16 KiB. The streams are opened over raw HTTP/2 frames, so
// the client holds no goroutine per stream and the stack memory that grows
// with them is the server's. Each stream has sent two messages, so each
// handler has idled between them at least once: where it idles is what sets
// its stack's size, as the runtime never shrinks a stack still a quarter
// used.
func TestStreamStackPerStream(t *testing.T) {
	const n = 1000
	// Metrics on, as by default: otelconnect's frames under the handler are
	// on every stream's stack.
	ts := startServer(t, server.Config{Fanout: fanout.Config{RealtimePositions: 1 << 40}})
	svc := ts.Service()
	ctx := context.Background()
	const event = "stack-per-stream"
	if _, err := svc.PutEvent(ctx, queue.Event{ID: event, State: queue.EventPaused}); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		v, _, err := svc.Join(ctx, "s-"+strconv.Itoa(i), event)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = v.Session.ID
	}
	c := dialH2(t, ts)
	// Every stream's messages come on this one connection: open its window.
	if err := c.write(func() error { return c.fr.WriteWindowUpdate(0, 1<<30) }); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := stackBytes()
	for i, id := range ids {
		body, err := proto.Marshal(&waitroomv1.StreamQueuePositionRequest{SessionId: id})
		if err != nil {
			t.Fatal(err)
		}
		env := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body)))
		sid := uint32(2*i + 1)
		if err := c.headers(sid, "POST", waitroomv1connect.WaitroomServiceStreamQueuePositionProcedure, false,
			"content-type", "application/connect+proto", "connect-protocol-version", "1"); err != nil {
			t.Fatal(err)
		}
		if err := c.write(func() error { return c.fr.WriteData(sid, true, append(env, body...)) }); err != nil {
			t.Fatal(err)
		}
	}
	// eachSends reads frames until every stream has sent one more message.
	eachSends := func() {
		t.Helper()
		got := make(map[uint32]bool, n)
		c.until("a message on every stream", func(s h2Seen) bool {
			if s.typ == http2.FrameRSTStream || s.typ == http2.FrameGoAway {
				t.Fatalf("the server ended stream %d: %+v", s.stream, s)
			}
			if s.typ == http2.FrameData {
				got[s.stream] = true
			}
			return len(got) == n
		})
	}
	eachSends()
	// A join moves every stream's queue length: a second message for each.
	if _, _, err := svc.Join(ctx, "one-more", event); err != nil {
		t.Fatal(err)
	}
	eachSends()
	runtime.GC()
	per := float64(stackBytes()-before) / n
	t.Logf("%.0f bytes of goroutine stack per open stream", per)
	if per > 12<<10 {
		t.Fatalf("%.1f KiB of goroutine stack per open stream, want 8 KiB (under 12)", per/1024)
	}
}
