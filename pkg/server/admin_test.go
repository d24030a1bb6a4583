package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

const adminTestToken = "admin-test-token-0123456789abcdef"

// adminStores are the stores the admin API is tested on, each a server
// config (the clock is set by the test).
func adminStores(t *testing.T) map[string]func() server.Config {
	return map[string]func() server.Config{
		"memory": func() server.Config { return server.Config{} },
		"disk":   func() server.Config { return server.Config{Store: server.StoreDisk} },
		"redis": func() server.Config {
			return redisConfig(t, redistest.Start(t).Addr())
		},
	}
}

// fakeClock is the service's clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type adminEnv struct {
	ts    *servertest.Server
	admin waitroomv1connect.EventAdminServiceClient
	clock *fakeClock
	logs  *syncBuffer
}

func startAdmin(t *testing.T, cfg server.Config) adminEnv {
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	logs := &syncBuffer{}
	cfg.AdminToken = adminTestToken
	cfg.Queue.Now = clk.Now
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	ts := startServer(t, cfg)
	admin := waitroomv1connect.NewEventAdminServiceClient(servertest.H2CClient(), ts.URL, connect.WithInterceptors(bearer(adminTestToken)))
	return adminEnv{ts: ts, admin: admin, clock: clk, logs: logs}
}

// TestAdminAPI runs the admin API's end-to-end tests on every store, over
// HTTP/2 with the generated client.
func TestAdminAPI(t *testing.T) {
	for name, cfg := range adminStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("UpdateEachField", func(t *testing.T) { testAdminUpdate(t, startAdmin(t, cfg())) })
			t.Run("UpdateRefusals", func(t *testing.T) { testAdminUpdateRefusals(t, startAdmin(t, cfg())) })
			t.Run("Delete", func(t *testing.T) { testAdminDelete(t, startAdmin(t, cfg())) })
			t.Run("Paging", func(t *testing.T) { testAdminPaging(t, startAdmin(t, cfg())) })
			t.Run("AdmissionRate", func(t *testing.T) { testAdminRate(t, startAdmin(t, cfg())) })
		})
	}
}

func fullProtoEvent(id string) *waitroomv1.Event {
	return &waitroomv1.Event{EventId: id, State: waitroomv1.EventState_EVENT_STATE_ACTIVE, MaxConcurrent: 5,
		CheckoutWindow: durationpb.New(900 * time.Second), CheckoutUrl: "https://shop.example/checkout", AdmissionRate: 3}
}

func (a adminEnv) put(t *testing.T, e *waitroomv1.Event) *waitroomv1.Event {
	t.Helper()
	res, err := a.admin.PutEvent(t.Context(), connect.NewRequest(&waitroomv1.PutEventRequest{Event: e}))
	if err != nil {
		t.Fatalf("PutEvent: %v", err)
	}
	return res.Msg.Event
}

func (a adminEnv) update(t *testing.T, e *waitroomv1.Event, paths ...string) (*waitroomv1.Event, error) {
	t.Helper()
	res, err := a.admin.UpdateEvent(t.Context(), connect.NewRequest(&waitroomv1.UpdateEventRequest{Event: e, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}))
	if err != nil {
		return nil, err
	}
	return res.Msg.Event, nil
}

func (a adminEnv) get(t *testing.T, id string) *waitroomv1.Event {
	t.Helper()
	res, err := a.admin.GetEvent(t.Context(), connect.NewRequest(&waitroomv1.GetEventRequest{EventId: id}))
	if err != nil {
		t.Fatalf("GetEvent(%s): %v", id, err)
	}
	return res.Msg.Event
}

// testAdminUpdate: each field alone changes, every other is kept; a pause
// keeps capacity, checkout window and URL.
func testAdminUpdate(t *testing.T, a adminEnv) {
	sale := timestamppb.New(a.clock.Now().Add(time.Hour))
	cases := []struct {
		path string
		set  func(*waitroomv1.Event)
	}{
		{"state", func(e *waitroomv1.Event) { e.State = waitroomv1.EventState_EVENT_STATE_PAUSED }},
		{"max_concurrent", func(e *waitroomv1.Event) { e.MaxConcurrent = 42 }},
		{"checkout_window", func(e *waitroomv1.Event) { e.CheckoutWindow = durationpb.New(2 * time.Minute) }},
		{"checkout_url", func(e *waitroomv1.Event) { e.CheckoutUrl = "/elsewhere" }},
		{"admission_rate", func(e *waitroomv1.Event) { e.AdmissionRate = 0.5 }},
		{"sale_starts_at", func(e *waitroomv1.Event) { e.SaleStartsAt = sale }},
	}
	for i, c := range cases {
		id := fmt.Sprintf("upd-%d", i)
		a.put(t, fullProtoEvent(id))
		// The request carries other values for every field: only the
		// named one may be taken.
		given := &waitroomv1.Event{EventId: id, State: waitroomv1.EventState_EVENT_STATE_CLOSED, MaxConcurrent: 99,
			CheckoutWindow: durationpb.New(time.Hour), CheckoutUrl: "/ignored", AdmissionRate: 77}
		c.set(given)
		got, err := a.update(t, given, c.path)
		if err != nil {
			t.Fatalf("UpdateEvent(%s): %v", c.path, err)
		}
		want := fullProtoEvent(id)
		c.set(want)
		got.SeedCommitment = "" // set with sale_starts_at: checked apart
		if c.path == "sale_starts_at" && a.get(t, id).SeedCommitment == "" {
			t.Fatal("sale_starts_at set without a seed commitment")
		}
		if !proto.Equal(got, want) {
			t.Fatalf("UpdateEvent(%s) = %v, want %v", c.path, got, want)
		}
	}
	// A pause, as the operator's issue tells it: everything else kept.
	a.put(t, fullProtoEvent("gala"))
	got, err := a.update(t, &waitroomv1.Event{EventId: "gala", State: waitroomv1.EventState_EVENT_STATE_PAUSED}, "state")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != waitroomv1.EventState_EVENT_STATE_PAUSED || got.MaxConcurrent != 5 || got.CheckoutWindow.AsDuration() != 900*time.Second ||
		got.CheckoutUrl != "https://shop.example/checkout" || got.AdmissionRate != 3 {
		t.Fatalf("paused event %v", got)
	}
}

func testAdminUpdateRefusals(t *testing.T, a adminEnv) {
	a.put(t, fullProtoEvent("gala"))
	ev := &waitroomv1.Event{EventId: "gala", State: waitroomv1.EventState_EVENT_STATE_PAUSED, AdmissionRate: -1}
	_, err := a.update(t, ev)
	wantCode(t, err, connect.CodeInvalidArgument, "update_mask")
	_, err = a.update(t, ev, "state", "queue_length")
	wantCode(t, err, connect.CodeInvalidArgument, `"queue_length"`)
	_, err = a.update(t, ev, "nonsense")
	wantCode(t, err, connect.CodeInvalidArgument, `"nonsense"`)
	_, err = a.update(t, ev, "admission_rate")
	wantCode(t, err, connect.CodeInvalidArgument, "admission_rate")
	_, err = a.update(t, &waitroomv1.Event{EventId: "gala", MaxConcurrent: -3}, "max_concurrent")
	wantCode(t, err, connect.CodeInvalidArgument, "max_concurrent")
	_, err = a.update(t, &waitroomv1.Event{EventId: "nope", State: waitroomv1.EventState_EVENT_STATE_PAUSED}, "state")
	wantCode(t, err, connect.CodeNotFound, "event not found")
	_, err = a.update(t, nil, "state")
	wantCode(t, err, connect.CodeInvalidArgument, "event")
	// State untouched by every refusal.
	if got := a.get(t, "gala"); !proto.Equal(got, fullProtoEvent("gala")) {
		t.Fatalf("after refused updates: %v", got)
	}
	// Paths may be written from the request too.
	if got, err := a.update(t, ev, "event.state"); err != nil || got.State != waitroomv1.EventState_EVENT_STATE_PAUSED {
		t.Fatalf(`UpdateEvent("event.state") = %v, %v`, got, err)
	}
}

// testAdminDelete: refused while sessions are live; force ends them as
// EXPIRED, which their streams see, and the event is gone.
func testAdminDelete(t *testing.T, a adminEnv) {
	e := fullProtoEvent("gala")
	e.AdmissionRate = 0
	a.put(t, e)
	c := protocols()[1].client(a.ts)
	var ids []string
	for _, u := range []string{"d1", "d2", "d3"} {
		ids = append(ids, join(t, c, u, "gala").SessionId)
	}
	process(t, a.ts) // capacity 5: the three are admitted; the fourth waits

	queuedID := join(t, c, "d4", "gala").SessionId
	st := openStream(t, c, queuedID)
	st.next()
	del := func(force bool) (*waitroomv1.DeleteEventResponse, error) {
		res, err := a.admin.DeleteEvent(t.Context(), connect.NewRequest(&waitroomv1.DeleteEventRequest{EventId: "gala", Force: force}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	_, err := del(false)
	wantCode(t, err, connect.CodeFailedPrecondition, "live sessions")
	if got := a.get(t, "gala"); got.Processing != 3 || got.QueueLength != 1 || got.State != waitroomv1.EventState_EVENT_STATE_ACTIVE {
		t.Fatalf("after a refused deletion: %v", got)
	}
	res, err := del(true)
	if err != nil || res.SessionsExpired != 4 {
		t.Fatalf("DeleteEvent(force) = %v, %v; want 4 sessions expired", res, err)
	}
	if m := st.until("EXPIRED", func(m *waitroomv1.PositionUpdate) bool {
		return m.GetStatus() == waitroomv1.SessionStatus_SESSION_STATUS_EXPIRED
	}); m.GetSessionId() != queuedID {
		t.Fatalf("stream got %v", m)
	}
	_, err = a.admin.GetEvent(t.Context(), connect.NewRequest(&waitroomv1.GetEventRequest{EventId: "gala"}))
	wantCode(t, err, connect.CodeNotFound, "event not found")
	_, err = c.GetQueueStatus(t.Context(), connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: ids[0]}))
	wantCode(t, err, connect.CodeNotFound, "not found")
	_, err = del(true)
	wantCode(t, err, connect.CodeNotFound, "event not found")
	// The id is free again: a join registers it afresh.
	if j := join(t, c, "d1", "gala"); j.GetPosition() != 1 || j.GetQueueLength() != 1 {
		t.Fatalf("a join after the deletion: %v", j)
	}
}

// testAdminPaging: pages of page_size in id order, an opaque token, and a
// bad token refused.
func testAdminPaging(t *testing.T, a adminEnv) {
	for i := range 7 {
		a.put(t, fullProtoEvent(fmt.Sprintf("ev-%d", i)))
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := a.admin.ListEvents(t.Context(), connect.NewRequest(&waitroomv1.ListEventsRequest{PageSize: 3, PageToken: token}))
		if err != nil {
			t.Fatalf("ListEvents page %d: %v", pages, err)
		}
		if len(res.Msg.Events) > 3 || pages > 3 {
			t.Fatalf("page %d has %d events", pages, len(res.Msg.Events))
		}
		for _, e := range res.Msg.Events {
			got = append(got, e.EventId)
		}
		token = res.Msg.NextPageToken
		if token == "" {
			break
		}
	}
	if want := "ev-0 ev-1 ev-2 ev-3 ev-4 ev-5 ev-6"; strings.Join(got, " ") != want {
		t.Fatalf("paged %v, want %s", got, want)
	}
	for _, bad := range []string{"!!!", "Zm9v~", "YS9i"} { // not base64, not base64, "a/b"
		_, err := a.admin.ListEvents(t.Context(), connect.NewRequest(&waitroomv1.ListEventsRequest{PageToken: bad}))
		wantCode(t, err, connect.CodeInvalidArgument, "page_token")
	}
	_, err := a.admin.ListEvents(t.Context(), connect.NewRequest(&waitroomv1.ListEventsRequest{PageSize: -1}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_size")
	res, err := a.admin.ListEvents(t.Context(), connect.NewRequest(&waitroomv1.ListEventsRequest{PageSize: 5000}))
	if err != nil || len(res.Msg.Events) != 7 || res.Msg.NextPageToken != "" {
		t.Fatalf("one big page: %v, %v", res, err)
	}
}

// testAdminRate: at 5 users a second, with capacity 1,000 and the processor
// ticking every 100 ms of the service's clock for 20 s, 100 ± 10 are
// admitted.
func testAdminRate(t *testing.T, a adminEnv) {
	e := fullProtoEvent("rated")
	e.MaxConcurrent, e.AdmissionRate = 1000, 0
	a.put(t, e)
	if _, err := a.update(t, &waitroomv1.Event{EventId: "rated", AdmissionRate: 5}, "admission_rate"); err != nil {
		t.Fatal(err)
	}
	c := protocols()[1].client(a.ts)
	for i := range 150 {
		join(t, c, fmt.Sprintf("r%d", i), "rated")
	}
	for range 200 {
		process(t, a.ts)
		a.clock.Add(100 * time.Millisecond)
	}
	got := a.get(t, "rated")
	if got.Processing < 90 || got.Processing > 110 || got.QueueLength != 150-got.Processing {
		t.Fatalf("5/s over 20 s admitted %d (queue %d), want 100 ± 10", got.Processing, got.QueueLength)
	}
}

// TestAdminAudit: every admin call, let through or refused, is one audit
// line with the procedure, event, fields, code and address, never the token.
func TestAdminAudit(t *testing.T) {
	a := startAdmin(t, server.Config{})
	a.put(t, fullProtoEvent("gala"))
	if _, err := a.update(t, &waitroomv1.Event{EventId: "gala", State: waitroomv1.EventState_EVENT_STATE_PAUSED}, "state", "admission_rate"); err != nil {
		t.Fatal(err)
	}
	const wrongToken = "wrong-token-that-must-never-be-logged"
	wrong := waitroomv1connect.NewEventAdminServiceClient(servertest.H2CClient(), a.ts.URL, connect.WithInterceptors(bearer(wrongToken)))
	_, err := wrong.DeleteEvent(t.Context(), connect.NewRequest(&waitroomv1.DeleteEventRequest{EventId: "gala", Force: true}))
	wantCode(t, err, connect.CodeUnauthenticated, "token")
	if _, err := a.admin.GetEvent(t.Context(), connect.NewRequest(&waitroomv1.GetEventRequest{EventId: "gala"})); err != nil {
		t.Fatal(err)
	}

	logs := a.logs.String()
	lines := auditLines(logs)
	want := []string{
		`procedure=/waitroom.v1.EventAdminService/PutEvent event_id=gala fields="[admission_rate checkout_url checkout_window max_concurrent state]" code=ok peer=127.0.0.1 `,
		`procedure=/waitroom.v1.EventAdminService/UpdateEvent event_id=gala fields="[state admission_rate]" code=ok peer=127.0.0.1 `,
		`procedure=/waitroom.v1.EventAdminService/DeleteEvent event_id=gala fields=[force] code=unauthenticated peer=127.0.0.1 `,
		`procedure=/waitroom.v1.EventAdminService/GetEvent event_id=gala fields=[] code=ok peer=127.0.0.1 `,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(lines[i], `msg="Admin call" `+w) {
			t.Errorf("audit line %d:\n%s\nwant it to contain\n%s", i, lines[i], w)
		}
	}
	for _, secret := range []string{adminTestToken, wrongToken, "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the logs hold %q:\n%s", secret, logs)
		}
	}
}

func auditLines(logs string) []string {
	var out []string
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, `msg="Admin call"`) {
			out = append(out, l)
		}
	}
	return out
}

// TestAdminUpdateJSON: the README's JSON form, as curl sends it over the
// Connect protocol: a field mask is one string of lowerCamelCase paths.
func TestAdminUpdateJSON(t *testing.T) {
	a := startAdmin(t, server.Config{})
	a.put(t, fullProtoEvent("concert-2024"))
	body := `{"update_mask": "state,maxConcurrent", "event": {"event_id": "concert-2024", "state": "EVENT_STATE_PAUSED", "max_concurrent": 800}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, a.ts.URL+"/waitroom.v1.EventAdminService/UpdateEvent", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminTestToken)
	res, err := h1Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("UpdateEvent over JSON: %s %s", res.Status, out)
	}
	got := a.get(t, "concert-2024")
	if got.State != waitroomv1.EventState_EVENT_STATE_PAUSED || got.MaxConcurrent != 800 || got.CheckoutUrl != "https://shop.example/checkout" || got.AdmissionRate != 3 {
		t.Fatalf("after UpdateEvent over JSON: %v", got)
	}
}
