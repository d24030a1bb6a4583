package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// startServer runs a server from cfg on 127.0.0.1:0, logging to the test.
// Where cfg leaves them zero, the settings that would tie a test to the clock
// take test values: the processor ticks once an hour (tests admit by calling
// ProcessOnce, so every step is deterministic), events admit one visitor at a
// time, streams coalesce for 5ms, and a stop waits at most 5s.
func startServer(t testing.TB, cfg server.Config) *servertest.Server {
	t.Helper()
	if cfg.Queue.ProcessInterval == 0 {
		cfg.Queue.ProcessInterval = time.Hour
	}
	if cfg.Queue.DefaultMaxConcurrent == 0 {
		cfg.Queue.DefaultMaxConcurrent = 1
	}
	if cfg.Fanout.Coalesce == 0 {
		cfg.Fanout.Coalesce = 5 * time.Millisecond
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = servertest.Logger(t)
	}
	return servertest.Start(t, cfg)
}

// protocol is one way a client reaches the same handlers.
type protocol struct {
	name string
	http *http.Client
	opts []connect.ClientOption
}

func h1Client() *http.Client { return &http.Client{Transport: &http.Transport{}} }

// protocols are every wire protocol the server promises, over the HTTP
// version each kind of client really uses.
func protocols() []protocol {
	return []protocol{
		{"connect-json-http1", h1Client(), []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect-proto-h2c", servertest.H2CClient(), nil},
		{"grpc-h2c", servertest.H2CClient(), []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web-http1", h1Client(), []connect.ClientOption{connect.WithGRPCWeb()}},
	}
}

func (p protocol) client(ts *servertest.Server) waitroomv1connect.WaitroomServiceClient {
	return waitroomv1connect.NewWaitroomServiceClient(p.http, ts.URL, p.opts...)
}

// streamReader collects one stream's messages.
type streamReader struct {
	t      testing.TB
	msgs   chan *waitroomv1.PositionUpdate
	done   chan error
	cancel context.CancelFunc
	last   *waitroomv1.PositionUpdate
}

func openStream(t testing.TB, c waitroomv1connect.WaitroomServiceClient, sessionID string) *streamReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := c.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: sessionID}))
	if err != nil {
		cancel()
		t.Fatalf("StreamQueuePosition(%s): %v", sessionID, err)
	}
	r := &streamReader{t: t, msgs: make(chan *waitroomv1.PositionUpdate, 10000), done: make(chan error, 1), cancel: cancel}
	go func() {
		defer close(r.msgs)
		for st.Receive() {
			r.msgs <- st.Msg()
		}
		r.done <- st.Err()
		st.Close()
	}()
	t.Cleanup(cancel)
	return r
}

const waitLimit = 10 * time.Second

// next returns the stream's next message, failing the test if none comes.
func (r *streamReader) next() *waitroomv1.PositionUpdate {
	r.t.Helper()
	select {
	case m, ok := <-r.msgs:
		if !ok {
			r.t.Fatalf("stream ended early: %v", <-r.done)
		}
		r.check(m)
		return m
	case <-time.After(waitLimit):
		r.t.Fatalf("no stream message within %v (last %v)", waitLimit, r.last)
	}
	return nil
}

// until reads messages until one satisfies ok and returns it.
func (r *streamReader) until(what string, ok func(*waitroomv1.PositionUpdate) bool) *waitroomv1.PositionUpdate {
	r.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case m, open := <-r.msgs:
			if !open {
				r.t.Fatalf("stream ended before %s (last %v): %v", what, r.last, <-r.done)
			}
			r.check(m)
			if ok(m) {
				return m
			}
		case <-deadline:
			r.t.Fatalf("stream never showed %s (last %v)", what, r.last)
		}
	}
}

// check asserts what every message must satisfy: no repeat of the last one
// but a heartbeat, which repeats it exactly, and never an older state after a
// newer one.
func (r *streamReader) check(m *waitroomv1.PositionUpdate) {
	r.t.Helper()
	if m.UpdatedAt == nil || m.Status == waitroomv1.SessionStatus_SESSION_STATUS_UNSPECIFIED || m.Position == nil || m.QueueLength == nil {
		r.t.Fatalf("incomplete message %v", m)
	}
	if m.GetHeartbeat() {
		// A keep-alive repeats the last state, and never comes first.
		p := r.last
		if p == nil || p.GetSessionId() != m.GetSessionId() || p.GetStatus() != m.GetStatus() ||
			p.GetPosition() != m.GetPosition() || p.GetQueueLength() != m.GetQueueLength() ||
			p.GetEstimatedWait().AsDuration() != m.GetEstimatedWait().AsDuration() ||
			m.GetUpdatedAt().AsTime().Before(p.GetUpdatedAt().AsTime()) || m.HeartbeatInterval != nil {
			r.t.Fatalf("heartbeat %v does not repeat the last state %v", m, p)
		}
		r.last = m
		return
	}
	if p := r.last; p != nil {
		// The same place with a new estimated wait is news (the admission
		// rate moved); everything the same is not.
		if p.GetStatus() == m.GetStatus() && p.GetPosition() == m.GetPosition() && p.GetQueueLength() == m.GetQueueLength() &&
			p.GetEstimatedWait().AsDuration() == m.GetEstimatedWait().AsDuration() && proto.Equal(p.GetFairStart(), m.GetFairStart()) {
			r.t.Fatalf("duplicate message %v after %v", m, p)
		}
		// An unplaced pre-queue's bound grows with it; a place never does.
		growing := m.GetFairStart() != nil && !m.GetFairStart().GetPlaced()
		// A place grows only when lanes drawn ahead grew, and says so.
		grew := m.GetStatus() == p.GetStatus() && m.GetStatus() == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED && m.GetPosition() > p.GetPosition() && !growing
		if m.GetStatus() < p.GetStatus() || grew != m.GetMovedBack() {
			r.t.Fatalf("older state %v after %v (moved_back %v)", m, p, m.GetMovedBack())
		}
	}
	r.last = m
}

// ended asserts the server closed the stream cleanly after the last message.
func (r *streamReader) ended() {
	r.t.Helper()
	select {
	case m, ok := <-r.msgs:
		if ok {
			r.t.Fatalf("unexpected message after the final one: %v", m)
		}
	case <-time.After(waitLimit):
		r.t.Fatalf("stream still open after %v", r.last)
	}
	if err := <-r.done; err != nil {
		r.t.Fatalf("stream ended with %v", err)
	}
}

func codeOf(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeUnknown
}

func wantCode(t testing.TB, err error, code connect.Code, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v error, got nil", code)
	}
	if codeOf(err) != code {
		t.Fatalf("want code %v, got %v (%v)", code, codeOf(err), err)
	}
	if !strings.Contains(err.Error(), msgPart) {
		t.Fatalf("error %q does not mention %q", err, msgPart)
	}
}

func join(t testing.TB, c waitroomv1connect.WaitroomServiceClient, user, event string) *waitroomv1.JoinQueueResponse {
	t.Helper()
	res, err := c.JoinQueue(context.Background(), connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: event}))
	if err != nil {
		t.Fatalf("JoinQueue(%s, %s): %v", user, event, err)
	}
	return res.Msg
}

func status(t testing.TB, c waitroomv1connect.WaitroomServiceClient, id string) *waitroomv1.PositionUpdate {
	t.Helper()
	res, err := c.GetQueueStatus(context.Background(), connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: id}))
	if err != nil {
		t.Fatalf("GetQueueStatus(%s): %v", id, err)
	}
	return res.Msg
}

func process(t testing.TB, ts *servertest.Server) {
	t.Helper()
	if err := ts.Service().ProcessOnce(context.Background()); err != nil {
		t.Fatalf("ProcessOnce: %v", err)
	}
}

func queued(pos, n int32) func(*waitroomv1.PositionUpdate) bool {
	return func(m *waitroomv1.PositionUpdate) bool {
		return m.GetStatus() == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED && m.GetPosition() == pos && m.GetQueueLength() == n
	}
}

func isStatus(s waitroomv1.SessionStatus) func(*waitroomv1.PositionUpdate) bool {
	return func(m *waitroomv1.PositionUpdate) bool { return m.GetStatus() == s }
}

func describe(pos, n int32) string { return fmt.Sprintf("position %d of %d", pos, n) }

// drain discards whatever a reader has buffered so far.
func drain(r *streamReader) {
	for {
		select {
		case m, ok := <-r.msgs:
			if !ok {
				return
			}
			r.check(m)
		default:
			return
		}
	}
}
