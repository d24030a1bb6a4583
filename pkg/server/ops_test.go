package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

func pausedEvent(id string) queue.Event { return queue.Event{ID: id, State: queue.EventPaused} }

// waitFor polls cond until it holds, failing after waitLimit. It waits for a
// state, it does not time anything.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamsLeakNothing opens many streams, lets the clients vanish, and
// checks that every watcher and goroutine they held is released.
func TestStreamsLeakNothing(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := protocols()[2].client(ts)
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = join(t, c, "leaker"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "leaks").SessionId
	}
	before := runtime.NumGoroutine()
	readers := make([]*streamReader, len(ids))
	for i, id := range ids {
		readers[i] = openStream(t, c, id)
		readers[i].next()
	}
	if n := ts.Service().OpenStreams(); n != int64(len(ids)) {
		t.Fatalf("OpenStreams = %d, want %d", n, len(ids))
	}
	for _, r := range readers {
		r.cancel()
	}
	waitFor(t, "watchers released", func() bool { return ts.Service().OpenStreams() == 0 })
	waitFor(t, "stream goroutines gone", func() bool { return runtime.NumGoroutine() <= before+2 })
}

// TestReflectionAndHealth checks what grpcurl and load balancers rely on.
func TestReflectionAndHealth(t *testing.T) {
	ts := startServer(t, server.Config{})
	rc := grpcreflect.NewClient(servertest.H2CClient(), ts.URL)
	st := rc.NewStream(context.Background())
	defer st.Close()
	names, err := st.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range names {
		got[string(n)] = true
	}
	for _, want := range []string{waitroomv1connect.WaitroomServiceName, waitroomv1connect.EventAdminServiceName, grpchealth.HealthV1ServiceName} {
		if !got[want] {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
	if _, err := st.FileContainingSymbol(waitroomv1connect.WaitroomServiceName); err != nil {
		t.Errorf("reflection cannot describe the service: %v", err)
	}

	hc := grpchealth.NewClient(servertest.H2CClient(), ts.URL, connect.WithGRPC())
	res, err := hc.Check(context.Background(), &grpchealth.CheckRequest{Service: waitroomv1connect.WaitroomServiceName})
	if err != nil || res.Status != grpchealth.StatusServing {
		t.Fatalf("health: %v, %v", res, err)
	}
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestJWKSAndUnaryJSON checks the endpoints curl users hit.
func TestJWKSAndUnaryJSON(t *testing.T) {
	ts := startServer(t, server.Config{})
	resp, err := http.Get(ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) == 0 {
		t.Fatalf("JWKS: %v %v", jwks, err)
	}
	resp.Body.Close()
	if k := jwks.Keys[0]; k["kty"] != "OKP" || k["alg"] != "EdDSA" || k["kid"] == "" {
		t.Fatalf("JWK %v", k)
	}

	// curl -H 'Content-Type: application/json' -d '{"user_id":…}' …/JoinQueue
	resp, err = http.Post(ts.URL+"/waitroom.v1.WaitroomService/JoinQueue", "application/json",
		strings.NewReader(`{"user_id":"curl-user","event_id":"curl-event"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"session_id":"curl-event~`, `"position":1`, `"queue_length":1`, `"status":"SESSION_STATUS_QUEUED"`, `"updated_at":"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("JoinQueue JSON %s lacks %s", body, want)
		}
	}
	// GetQueueStatus has no side effects, so it works as an HTTP GET.
	var joined struct {
		SessionID string `json:"session_id"`
	}
	json.Unmarshal(body, &joined)
	resp, err = http.Get(ts.URL + "/waitroom.v1.WaitroomService/GetQueueStatus?encoding=json&message=" +
		`{"session_id":"` + joined.SessionID + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"position":1`) {
		t.Fatalf("GET GetQueueStatus: %d %s", resp.StatusCode, body)
	}
}

// TestAdmin checks the event admin API: auth, settings, pause and close.
func TestAdmin(t *testing.T) {
	const adminToken = "test-admin-token-0123456789"
	ts := startServer(t, server.Config{AdminToken: adminToken})
	ctx := context.Background()
	noAuth := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithProtoJSON())
	_, err := noAuth.ListEvents(ctx, connect.NewRequest(&waitroomv1.ListEventsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated, "token")

	for _, hdr := range []string{"Bearer " + adminToken + "x", "Bearer " + adminToken[1:], "Basic " + adminToken, adminToken} {
		wrong := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithProtoJSON(),
			connect.WithInterceptors(header("Authorization", hdr)))
		_, err := wrong.ListEvents(ctx, connect.NewRequest(&waitroomv1.ListEventsRequest{}))
		wantCode(t, err, connect.CodeUnauthenticated, "token")
	}
	// The scheme is case-insensitive.
	lower := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithProtoJSON(),
		connect.WithInterceptors(header("Authorization", "bearer "+adminToken)))
	if _, err := lower.ListEvents(ctx, connect.NewRequest(&waitroomv1.ListEventsRequest{})); err != nil {
		t.Fatalf("lower-case bearer scheme: %v", err)
	}

	admin := waitroomv1connect.NewEventAdminServiceClient(h1Client(), ts.URL, connect.WithProtoJSON(),
		connect.WithInterceptors(bearer(adminToken)))
	put := func(e *waitroomv1.Event) (*waitroomv1.Event, error) {
		res, err := admin.PutEvent(ctx, connect.NewRequest(&waitroomv1.PutEventRequest{Event: e}))
		if err != nil {
			return nil, err
		}
		return res.Msg.Event, nil
	}
	e, err := put(&waitroomv1.Event{EventId: "gala", MaxConcurrent: 2, CheckoutUrl: "https://shop.example/checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if e.State != waitroomv1.EventState_EVENT_STATE_ACTIVE || e.MaxConcurrent != 2 || e.CheckoutWindow.AsDuration() != 10*time.Minute {
		t.Fatalf("stored event %v", e)
	}
	_, err = put(&waitroomv1.Event{EventId: "gala", MaxConcurrent: -1})
	wantCode(t, err, connect.CodeInvalidArgument, "max_concurrent")
	_, err = put(&waitroomv1.Event{EventId: "gala", CheckoutUrl: "javascript:alert(1)"})
	wantCode(t, err, connect.CodeInvalidArgument, "checkout_url")
	_, err = put(&waitroomv1.Event{EventId: "gala", CheckoutWindow: durationpb.New(time.Millisecond)})
	wantCode(t, err, connect.CodeInvalidArgument, "checkout_window")
	_, err = admin.GetEvent(ctx, connect.NewRequest(&waitroomv1.GetEventRequest{EventId: "nope"}))
	wantCode(t, err, connect.CodeNotFound, "event not found")

	c := protocols()[0].client(ts)
	for _, u := range []string{"p1", "p2", "p3"} {
		join(t, c, u, "gala")
	}
	// Paused: joins are taken, nobody is admitted.
	if _, err := put(&waitroomv1.Event{EventId: "gala", MaxConcurrent: 2, State: waitroomv1.EventState_EVENT_STATE_PAUSED}); err != nil {
		t.Fatal(err)
	}
	process(t, ts)
	got, err := admin.GetEvent(ctx, connect.NewRequest(&waitroomv1.GetEventRequest{EventId: "gala"}))
	if err != nil || got.Msg.Event.QueueLength != 3 || got.Msg.Event.Processing != 0 {
		t.Fatalf("paused event admitted: %v %v", got, err)
	}
	// Active again: two are admitted (its own capacity, not the default 1),
	// and READY carries the event's own checkout URL.
	if _, err := put(&waitroomv1.Event{EventId: "gala", MaxConcurrent: 2, CheckoutUrl: "https://shop.example/checkout"}); err != nil {
		t.Fatal(err)
	}
	process(t, ts)
	got, _ = admin.GetEvent(ctx, connect.NewRequest(&waitroomv1.GetEventRequest{EventId: "gala"}))
	if got.Msg.Event.QueueLength != 1 || got.Msg.Event.Processing != 2 {
		t.Fatalf("after admission: %v", got.Msg.Event)
	}
	first := join(t, c, "p1", "gala")
	if first.Status != waitroomv1.SessionStatus_SESSION_STATUS_READY || first.CheckoutUrl != "https://shop.example/checkout" || first.CheckoutToken == "" {
		t.Fatalf("admitted join: %v", first)
	}
	// Closed: new joins are refused.
	if _, err := put(&waitroomv1.Event{EventId: "gala", State: waitroomv1.EventState_EVENT_STATE_CLOSED}); err != nil {
		t.Fatal(err)
	}
	_, err = c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "p9", EventId: "gala"}))
	wantCode(t, err, connect.CodeFailedPrecondition, "closed")
	list, err := admin.ListEvents(ctx, connect.NewRequest(&waitroomv1.ListEventsRequest{}))
	if err != nil || len(list.Msg.Events) != 1 || list.Msg.Events[0].EventId != "gala" {
		t.Fatalf("ListEvents: %v %v", list, err)
	}
}

func bearer(tok string) connect.UnaryInterceptorFunc { return header("Authorization", "Bearer "+tok) }

func header(name, value string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(name, value)
			return next(ctx, req)
		}
	}
}

// TestShutdownEndsStreams checks that a stopping server ends open streams
// with Unavailable, so clients reconnect to another replica.
func TestShutdownEndsStreams(t *testing.T) {
	ts := startServer(t, server.Config{})
	c := protocols()[2].client(ts)
	r := openStream(t, c, join(t, c, "u", "shutdown").SessionId)
	r.next()
	ts.Service().Close()
	select {
	case _, ok := <-r.msgs:
		if ok {
			t.Fatal("message after shutdown")
		}
	case <-time.After(waitLimit):
		t.Fatal("stream still open after shutdown")
	}
	if err := <-r.done; codeOf(err) != connect.CodeUnavailable {
		t.Fatalf("stream ended with %v, want Unavailable", err)
	}
}

// TestCORS checks that configured origins may call the API from browsers.
func TestCORS(t *testing.T) {
	ts := startServer(t, server.Config{CORSOrigins: []string{"https://tickets.example"}})
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/waitroom.v1.WaitroomService/JoinQueue", nil)
	req.Header.Set("Origin", "https://tickets.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "connect-protocol-version,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://tickets.example" {
		t.Fatalf("allowed origin %q", got)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("other origin allowed: %q", got)
	}
}

// TestUnknownEventsRefused checks QUEUE_REGISTER_UNKNOWN_EVENTS=false: only
// events an operator created take joins.
func TestUnknownEventsRefused(t *testing.T) {
	ts := startServer(t, server.Config{Queue: queue.Config{UnknownEvents: queue.RefuseUnknownEvents}})
	c := protocols()[0].client(ts)
	_, err := c.JoinQueue(context.Background(), connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "u", EventId: "made-up"}))
	wantCode(t, err, connect.CodeNotFound, "event not found")
	if events, err := ts.Service().Events(context.Background()); err != nil || len(events) != 0 {
		t.Fatalf("a refused join registered an event: %v %v", events, err)
	}
	if _, err := ts.Service().PutEvent(context.Background(), queue.Event{ID: "real"}); err != nil {
		t.Fatal(err)
	}
	if j := join(t, c, "u", "real"); j.GetPosition() != 1 {
		t.Fatalf("join to a created event: %v", j)
	}
}

// TestProfilerOnlyOnDebugAddr: DEBUG_ADDR serves the profiler and the stats;
// the public port serves neither.
func TestProfilerOnlyOnDebugAddr(t *testing.T) {
	ts := startServer(t, server.Config{DebugAddr: "127.0.0.1:0"})
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	debug := "http://" + ts.DebugAddr().String()
	if code, body := get(debug + "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("debug port goroutine profile: %d %.80q", code, body)
	}
	if code, body := get(debug + "/debug/stats"); code != http.StatusOK || !strings.Contains(body, `"open_streams"`) {
		t.Errorf("debug port stats: %d %.80q", code, body)
	}
	if code, _ := get(ts.URL + "/debug/pprof/goroutine?debug=1"); code != http.StatusNotFound {
		t.Errorf("public port serves the profiler: %d", code)
	}
	if code, _ := get(ts.URL + "/debug/stats"); code != http.StatusNotFound {
		t.Errorf("public port serves the stats: %d", code)
	}

	plain := startServer(t, server.Config{})
	if plain.DebugAddr() != nil {
		t.Errorf("DebugAddr() = %v without DEBUG_ADDR", plain.DebugAddr())
	}
}

// TestPortInUse: a port that cannot be bound is an error naming its
// variable, and the public port New had already bound is released again.
func TestPortInUse(t *testing.T) {
	taken := startServer(t, server.Config{DebugAddr: "127.0.0.1:0"})
	free := freeAddr(t)
	for name, cfg := range map[string]server.Config{
		"LISTEN_ADDR": {ListenAddr: taken.Addr().String(), MetricsAddr: server.MetricsOff, Store: server.StoreMemory},
		"DEBUG_ADDR":  {ListenAddr: free, DebugAddr: taken.DebugAddr().String(), MetricsAddr: server.MetricsOff, Store: server.StoreMemory},
	} {
		srv, err := server.New(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s taken: New = %v, %v; want an error naming %s", name, srv, err, name)
		}
	}
	ln, err := net.Listen("tcp", free)
	if err != nil {
		t.Fatalf("LISTEN_ADDR %s still held after New failed: %v", free, err)
	}
	ln.Close()
}

// freeAddr is a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
