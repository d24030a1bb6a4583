package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// watcher reads a WatchEvent stream.
type watcher struct {
	t    testing.TB
	msgs chan *waitroomv1.EventStats
	done chan error
	last *waitroomv1.EventStats
	// cancel ends the call.
	cancel func()
}

// watchEvent opens a WatchEvent stream with the admin token; it ends when
// the test does.
func watchEvent(t testing.TB, admin waitroomv1connect.EventAdminServiceClient, event string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := connect.NewRequest(&waitroomv1.WatchEventRequest{EventId: event})
	req.Header().Set("Authorization", "Bearer "+adminTestToken)
	st, err := admin.WatchEvent(ctx, req)
	if err != nil {
		t.Fatalf("WatchEvent(%s): %v", event, err)
	}
	w := &watcher{t: t, msgs: make(chan *waitroomv1.EventStats, 1000), done: make(chan error, 1), cancel: cancel}
	go func() {
		defer close(w.msgs)
		for st.Receive() {
			w.msgs <- st.Msg().GetStats()
		}
		w.done <- st.Err()
	}()
	return w
}

// until reads figures until ok holds for them, and returns them.
func (w *watcher) until(what string, ok func(*waitroomv1.EventStats) bool) *waitroomv1.EventStats {
	w.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case m, open := <-w.msgs:
			if !open {
				w.t.Fatalf("WatchEvent ended before %s (last %v): %v", what, w.last, <-w.done)
			}
			w.last = m
			if ok(m) {
				return m
			}
		case <-deadline:
			w.t.Fatalf("no figures with %s within %v (last %v)", what, waitLimit, w.last)
		}
	}
}

// ended waits for the stream's end and returns its error.
func (w *watcher) ended() error {
	w.t.Helper()
	for {
		select {
		case _, open := <-w.msgs:
			if !open {
				return <-w.done
			}
		case <-time.After(waitLimit):
			w.t.Fatalf("WatchEvent did not end within %v", waitLimit)
		}
	}
}

// TestWatchEvent checks WatchEvent's figures through the real server on
// every store.
func TestWatchEvent(t *testing.T) {
	for name, cfg := range adminStores(t) {
		t.Run(name, func(t *testing.T) { testWatchEvent(t, startAdmin(t, cfg())) })
	}
}

// testWatchEvent: join 5, admit 2 after 3 s, complete one, one leaves,
// a stream opens and closes, an admitted session expires: the figures say
// so. Once the event is deleted, the watch ends with NotFound.
func testWatchEvent(t *testing.T, a adminEnv) {
	ev := "watched"
	e := fullProtoEvent(ev)
	e.MaxConcurrent, e.AdmissionRate = 2, 0
	a.put(t, e)
	c := a.ts.Client()
	var ids []string
	for i := range 5 {
		ids = append(ids, join(t, c, fmt.Sprint("u", i), ev).SessionId)
	}
	a.clock.Add(3 * time.Second)
	process(t, a.ts)
	if _, err := c.CompleteCheckout(t.Context(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: ids[0]})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LeaveQueue(t.Context(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ids[4]})); err != nil {
		t.Fatal(err)
	}
	w := watchEvent(t, a.admin, ev)
	first := w.until("the first figures", func(*waitroomv1.EventStats) bool { return true })
	want := &waitroomv1.EventStats{EventId: ev, State: waitroomv1.EventState_EVENT_STATE_ACTIVE, QueueLength: 2, Processing: 1, MaxConcurrent: 2,
		JoinedTotal: 5, AdmittedTotal: 2, CompletedTotal: 1, LeftTotal: 1,
		// Two admissions in the 4 s since the first join.
		AdmittedPerSecond: 0.5, WaitP50: durationpb.New(3 * time.Second), WaitP90: durationpb.New(3 * time.Second), WaitSamples: 2}
	first.At = nil
	if first.String() != want.String() {
		t.Fatalf("first figures:\n%v\nwant\n%v", first, want)
	}

	st := openStream(t, c, ids[2])
	st.next()
	w.until("the open stream", func(s *waitroomv1.EventStats) bool { return s.OpenStreams == 1 && s.ReplicasReporting == 1 })
	st.cancel()
	w.until("the stream closed", func(s *waitroomv1.EventStats) bool { return s.OpenStreams == 0 && s.ReplicasReporting == 0 })

	a.clock.Add(900 * time.Second)
	process(t, a.ts)
	// The waiting two are absent by then: held, not admitted.
	w.until("the expiry", func(s *waitroomv1.EventStats) bool { return s.ExpiredTotal == 1 && s.Processing == 0 })

	if _, err := a.admin.DeleteEvent(t.Context(), connect.NewRequest(&waitroomv1.DeleteEventRequest{EventId: ev, Force: true})); err != nil {
		t.Fatal(err)
	}
	if err := w.ended(); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("WatchEvent of a deleted event: %v, want NotFound", err)
	}
	unknown := watchEvent(t, a.admin, "no-such-event")
	if err := unknown.ended(); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("WatchEvent of an unknown event: %v, want NotFound", err)
	}
}

// TestWatchEventAcrossReplicas: two replicas on one Redis count each
// other's open streams; once one stops, the other's figures drop its
// streams.
func TestWatchEventAcrossReplicas(t *testing.T) {
	r := redistest.Start(t)
	cfg := redisConfig(t, r.Addr())
	cfg.AdminToken = adminTestToken
	a, b := startServer(t, cfg), startServer(t, cfg)
	ev := "replicated"
	open := func(ts *servertest.Server, users ...string) {
		c := ts.Client()
		for _, u := range users {
			openStream(t, c, join(t, c, u, ev).SessionId).next()
		}
	}
	open(a, "a1", "a2")
	open(b, "b1", "b2", "b3")
	both := func(s *waitroomv1.EventStats) bool { return s.OpenStreams == 5 && s.ReplicasReporting == 2 }
	wa := watchEvent(t, adminClient(a), ev)
	wa.until("both replicas' streams, seen from A", both)
	watchEvent(t, adminClient(b), ev).until("both replicas' streams, seen from B", both)
	b.Stop()
	wa.until("A's streams alone", func(s *waitroomv1.EventStats) bool { return s.OpenStreams == 2 && s.ReplicasReporting == 1 })

	// A replica killed does not withdraw its report: it stops counting
	// once its last report is 5 s old.
	st, err := redisstore.Dial(t.Context(), []string{r.Addr()}, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.ReportStreams(t.Context(), "killed", map[string]int64{ev: 7}, time.Now()); err != nil {
		t.Fatal(err)
	}
	wa.until("the killed replica's streams", func(s *waitroomv1.EventStats) bool { return s.OpenStreams == 9 && s.ReplicasReporting == 2 })
	wa.until("the killed replica's report aged out", func(s *waitroomv1.EventStats) bool { return s.OpenStreams == 2 && s.ReplicasReporting == 1 })
}

func adminClient(ts *servertest.Server) waitroomv1connect.EventAdminServiceClient {
	return waitroomv1connect.NewEventAdminServiceClient(servertest.H2CClient(), ts.URL)
}

// TestWatchEventLimit: a replica serves MaxWatches watches at once and
// refuses the next with ResourceExhausted; one ending makes room.
func TestWatchEventLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 257 streams")
	}
	ts := startServer(t, server.Config{AdminToken: adminTestToken})
	join(t, ts.Client(), "u", "limited")
	var first *watcher
	for i := range api.MaxWatches {
		// Spread over connections: 250 streams per HTTP/2 connection.
		w := watchEvent(t, adminClient(ts), "limited")
		w.until("the first figures", func(*waitroomv1.EventStats) bool { return true })
		if i == 0 {
			first = w
		}
	}
	if err := watchEvent(t, adminClient(ts), "limited").ended(); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("watch %d: %v, want ResourceExhausted", api.MaxWatches+1, err)
	}
	first.cancel()
	waitFor(t, "room for another watch", func() bool {
		w := watchEvent(t, adminClient(ts), "limited")
		select {
		case m, ok := <-w.msgs:
			return ok && m != nil
		case <-time.After(waitLimit):
			return false
		}
	})
}
