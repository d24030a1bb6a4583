package fanout_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// TestHeartbeats: a stream says how often it beats on its first state; once
// it has sent nothing for the interval it gets its last state again, marked
// as a heartbeat, within a quarter of the interval more; a stream that hears
// of changes more often than that gets no heartbeat at all.
func TestHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := memstore.New(memstore.Config{})
		hub := fanout.New(store, fanout.Config{Heartbeat: 20 * time.Second})
		svc := queue.NewService(store, queuetest.Tokens{}, hub, queue.Config{})
		defer svc.Close()
		v, _, err := svc.Join(ctx, "u1", "beats")
		if err != nil {
			t.Fatal(err)
		}
		st, err := svc.Watch(ctx, v.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		first, err := st.Next(ctx)
		if err != nil || first.Heartbeat || first.HeartbeatInterval != 20*time.Second {
			t.Fatalf("first state %+v, %v: want no heartbeat and an interval of 20s", first, err)
		}
		sent := time.Now()
		beat, err := st.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if quiet := time.Since(sent); !beat.Heartbeat || quiet < 20*time.Second || quiet > 25*time.Second {
			t.Fatalf("after %v of silence: %+v, want a heartbeat after 20-25s", quiet, beat)
		}
		if beat.Position != 1 || beat.QueueLength != 1 || beat.Session.Status != queue.StatusQueued ||
			beat.Session.ID != v.Session.ID || beat.HeartbeatInterval != 0 || !beat.UpdatedAt.Equal(time.Now()) {
			t.Fatalf("heartbeat %+v: want the last state again, stamped now, without the interval", beat)
		}
		if n := hub.Heartbeats(); n != 1 {
			t.Fatalf("Heartbeats() = %d, want 1", n)
		}

		// Changes every 15 s: the stream is never silent for 20 s.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 8 {
				time.Sleep(15 * time.Second)
				if _, _, err := svc.Join(ctx, "j"+string(rune('a'+i)), "beats"); err != nil {
					t.Error(err)
				}
			}
		}()
		for want := int64(2); want <= 9; want++ {
			u, err := st.Next(ctx)
			if err != nil || u.Heartbeat || u.QueueLength != want {
				t.Fatalf("during changes: %+v, %v; want queue length %d and no heartbeat", u, err, want)
			}
		}
		<-done
		sent = time.Now()
		if u, err := st.Next(ctx); err != nil || !u.Heartbeat || u.QueueLength != 9 || time.Since(sent) < 20*time.Second {
			t.Fatalf("after the changes: %+v, %v; want a heartbeat with queue length 9, 20s on", u, err)
		}
		if n := hub.Heartbeats(); n != 2 {
			t.Fatalf("Heartbeats() = %d, want 2", n)
		}
	})
}

// TestHeartbeatsOff: with a negative interval a stream says nothing of
// heartbeats and stays silent while nothing changes.
func TestHeartbeatsOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := memstore.New(memstore.Config{})
		hub := fanout.New(store, fanout.Config{Heartbeat: -1, MaxAge: -1})
		svc := queue.NewService(store, queuetest.Tokens{}, hub, queue.Config{})
		defer svc.Close()
		v, _, err := svc.Join(ctx, "u1", "quiet")
		if err != nil {
			t.Fatal(err)
		}
		st, err := svc.Watch(ctx, v.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if first, err := st.Next(ctx); err != nil || first.HeartbeatInterval != 0 {
			t.Fatalf("first state %+v, %v: want no heartbeat interval", first, err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		if u, err := st.Next(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("with heartbeats off: %+v, %v; want silence for an hour", u, err)
		}
		if n := hub.Heartbeats(); n != 0 {
			t.Fatalf("Heartbeats() = %d, want 0", n)
		}
	})
}

// TestHeartbeatWaitsForPendingState: a heartbeat never takes the place of a
// state the reader has not taken yet, and a slow reader gets the state, not
// a heartbeat before it.
func TestHeartbeatWaitsForPendingState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		store := memstore.New(memstore.Config{})
		hub := fanout.New(store, fanout.Config{Heartbeat: 20 * time.Second, Coalesce: time.Millisecond})
		svc := queue.NewService(store, queuetest.Tokens{}, hub, queue.Config{})
		defer svc.Close()
		v, _, _ := svc.Join(ctx, "u1", "slow")
		st, err := svc.Watch(ctx, v.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Next(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if _, _, err := svc.Join(ctx, "u2", "slow"); err != nil {
			t.Fatal(err)
		}
		// The reader sleeps past the interval with the new state waiting.
		time.Sleep(time.Minute)
		u, err := st.Next(ctx)
		if err != nil || u.Heartbeat || u.QueueLength != 2 {
			t.Fatalf("slow reader: %+v, %v; want the waiting state, not a heartbeat", u, err)
		}
		if n := hub.Heartbeats(); n != 0 {
			t.Fatalf("Heartbeats() = %d, want 0", n)
		}
	})
}
