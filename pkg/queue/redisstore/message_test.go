package redisstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/internal/redistest"
)

// What the guide's redis-cli PSUBSCRIBE 'queue:updates:*' shows: the
// guide's fields, plus seq, queue_length and the sessions, and the session
// readable with GET.
func TestGuideMessageShape(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	got := make(chan rueidis.PubSubMessage, 1)
	subscribed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		hctx := rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { subscribed <- struct{}{} })
		c.Receive(hctx, c.B().Psubscribe().Pattern("queue:updates:*").Build(), func(m rueidis.PubSubMessage) {
			select {
			case got <- m:
			default:
			}
		})
	}()
	defer func() { cancel(); <-done }()
	<-subscribed

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, _, _, err := st.Join(t.Context(), joinParams("concert-2024", "user-test", now))
	if err != nil {
		t.Fatal(err)
	}
	var m rueidis.PubSubMessage
	select {
	case m = <-got:
	case <-time.After(liveness):
		t.Fatal("no message on queue:updates:*")
	}
	t.Logf("%s: %s", m.Channel, m.Message)
	if m.Channel != "queue:updates:concert-2024" || m.Pattern != "queue:updates:*" {
		t.Fatalf("channel %q pattern %q", m.Channel, m.Pattern)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(m.Message), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event_id":             "concert-2024",
		"update_type":          "user_joined",
		"affected_session_ids": []any{s.ID},
		"timestamp":            "2026-03-01T12:00:00.000Z",
		"seq":                  1.0,
		"queue_length":         1.0,
		"sessions":             []any{map[string]any{"id": s.ID, "user_id": "user-test", "ticket": 1.0, "status": "queued"}},
	}
	for k, v := range want {
		if b, _ := json.Marshal(body[k]); string(b) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, b, mustJSON(v))
		}
	}

	raw := srv.MustString("GET", "waitroom:{concert-2024}:session:"+s.ID)
	t.Logf("GET session: %s", raw)
	var doc map[string]any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc["status"] != "queued" || doc["user_id"] != "user-test" {
		t.Fatalf("session JSON %s: %v", raw, err)
	}
	if n := srv.MustString("ZCARD", "waitroom:{concert-2024}:queue"); n != "1" {
		t.Fatalf("ZCARD queue = %s", n)
	}
	if n := srv.MustString("SCARD", "waitroom:{concert-2024}:processing"); n != "0" {
		t.Fatalf("SCARD processing = %s", n)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
