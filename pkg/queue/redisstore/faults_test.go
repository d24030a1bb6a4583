package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// liveness bounds waits for things that must happen eventually: a guard
// against hanging, not a timing assertion.
const liveness = 30 * time.Second

func joinParams(eventID, userID string, now time.Time) queue.JoinParams {
	return queue.JoinParams{
		SessionID: queue.NewSessionID(eventID),
		UserID:    userID,
		EventID:   eventID,
		Now:       now,
		TTL:       time.Hour,
		NewEvent:  queue.Event{ID: eventID, State: queue.EventActive, MaxConcurrent: 10, CheckoutWindow: time.Minute},
	}
}

// SIGKILL with appendfsync always: requests fail fast with ErrUnavailable
// while Redis is down, every acknowledged join is back after the restart,
// and the subscription re-establishes itself and carries new changes.
func TestRedisKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t, redistest.WithAOF())
	st := dial(t, []string{srv.Addr()})
	ev, now := "crash-"+fmt.Sprint(time.Now().UnixNano()), time.Now().UTC().Truncate(time.Millisecond)
	h := queuetest.Subscribe(t, st, ev)

	type acked struct {
		s  queue.Session
		pl queue.Place
	}
	var joined []acked
	for i := range 25 {
		s, pl, _, err := st.Join(t.Context(), joinParams(ev, fmt.Sprintf("u%d", i), now))
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, acked{s, pl})
	}
	srv.Kill()

	for _, op := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Join", func(ctx context.Context) error {
			_, _, _, err := st.Join(ctx, joinParams(ev, "during-outage", now))
			return err
		}},
		{"Session", func(ctx context.Context) error { _, _, err := st.Session(ctx, joined[0].s.ID); return err }},
		{"Admit", func(ctx context.Context) error { _, err := st.Admit(ctx, ev, now, 10); return err }},
		{"Event", func(ctx context.Context) error { _, _, err := st.Event(ctx, ev); return err }},
		{"Ping", st.Ping},
	} {
		start := time.Now()
		err := op.fn(t.Context())
		took := time.Since(start)
		t.Logf("%s with Redis down: %v after %v", op.name, err, took)
		if !errors.Is(err, queue.ErrUnavailable) || errors.Is(err, queue.ErrTimeout) {
			t.Fatalf("%s with Redis down: err = %v, want ErrUnavailable (down, not slow)", op.name, err)
		}
		if took > 5*time.Second {
			t.Fatalf("%s with Redis down took %v: it must fail fast, never hang", op.name, took)
		}
	}

	srv.Restart()
	// The client reconnects on the next call.
	waitUp(t, st)
	for i, a := range joined {
		s, pl, err := st.Session(t.Context(), a.s.ID)
		if err != nil {
			t.Fatalf("join %d lost after the restart: %v", i, err)
		}
		if s.Ticket != a.s.Ticket || s.Status != queue.StatusQueued || pl.Position != int64(i+1) || pl.QueueLength != 25 {
			t.Fatalf("join %d after the restart: %+v %+v, want ticket %d at position %d of 25", i, s, pl, a.s.Ticket, i+1)
		}
	}
	h.WaitSubscribed(t, 2)
	s, _, _, err := st.Join(t.Context(), joinParams(ev, "after-restart", now))
	if err != nil {
		t.Fatal(err)
	}
	if c := h.WaitSession(t, s.ID); c.Seq != 26 || c.Kind != queue.ChangeJoined {
		t.Fatalf("change after the restart: %+v", c)
	}
}

func waitUp(t *testing.T, st *redisstore.Store) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		err := st.Ping(t.Context())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store still unavailable after the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A server-side kill of the subscription's connection: Subscribed fires
// again and changes keep flowing.
func TestPubSubConnectionKilled(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ev, now := "kill-"+fmt.Sprint(time.Now().UnixNano()), time.Now().UTC().Truncate(time.Millisecond)
	h := queuetest.Subscribe(t, st, ev)
	first, _, _, err := st.Join(t.Context(), joinParams(ev, "before", now))
	if err != nil {
		t.Fatal(err)
	}
	h.WaitSession(t, first.ID)

	for round := 2; round <= 3; round++ {
		killed := srv.Do(t.Context(), "CLIENT", "KILL", "TYPE", "pubsub")
		n, err := killed.AsInt64()
		if err != nil || n < 1 {
			t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v", n, err)
		}
		h.WaitSubscribed(t, round)
		s, _, _, err := st.Join(t.Context(), joinParams(ev, fmt.Sprintf("after-kill-%d", round), now))
		if err != nil {
			t.Fatal(err)
		}
		if c := h.WaitSession(t, s.ID); c.Seq != uint64(round) {
			t.Fatalf("change after kill %d: seq %d, want %d", round-1, c.Seq, round)
		}
	}
}

// Subscribe keeps retrying while Redis is down, however long, and comes
// back by itself.
func TestSubscribeWhileRedisDown(t *testing.T) {
	srv := redistest.Start(t, redistest.WithAOF())
	st := dial(t, []string{srv.Addr()})
	ev := "down-" + fmt.Sprint(time.Now().UnixNano())
	h := queuetest.Subscribe(t, st, ev)
	srv.Kill()
	time.Sleep(3 * time.Second) // several of the client's reconnect attempts fail
	srv.Restart()
	h.WaitSubscribed(t, 2)
	waitUp(t, st)
	s, _, _, err := st.Join(t.Context(), joinParams(ev, "u", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	h.WaitSession(t, s.ID)
}

// A malformed message on the channel is logged and dropped; later changes
// still arrive.
func TestMalformedMessageDropped(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ev := "bad-" + fmt.Sprint(time.Now().UnixNano())
	h := queuetest.Subscribe(t, st, ev)
	for _, m := range []string{"not json", `{"event_id":"x","update_type":"user_joined","seq":1}`, `{"update_type":"teleported"}`} {
		if err := srv.Do(t.Context(), "PUBLISH", redisstore.Channel(ev), m).Error(); err != nil {
			t.Fatal(err)
		}
	}
	s, _, _, err := st.Join(t.Context(), joinParams(ev, "u", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	h.WaitSession(t, s.ID)
	if got := h.Changes(); len(got) != 1 {
		t.Fatalf("delivered %d changes, want only the real one: %+v", len(got), got)
	}
}
