package kafka_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// An event whose sessions have all ended is still live while its outbox
// holds entries: the relay drains it, and only then does the event go idle
// and, registered by a join, get forgotten. Joined again, its records carry
// ids it never used before.
func TestRelayDrainsEventWithNoLiveSessions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) queue.Store
	}{
		{"memstore", func(*testing.T) queue.Store { return memstore.New(memstore.Config{Outbox: true}) }},
		{"redis", func(t *testing.T) queue.Store { return dialRedis(t, redistest.Start(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.store(t)
			ctx := context.Background()
			w := newWorld(t, st)
			c := newCluster(t)
			brokers := c.ListenAddrs()
			col := newCollector(t, brokers)
			live := func() bool {
				evs, err := st.LiveEvents(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return slices.ContainsFunc(evs, func(e queue.Event) bool { return e.ID == "quiet" })
			}

			w.leave(w.join("quiet", "u1").ID)
			w.leave(w.join("quiet", "u2").ID)
			w.expire("quiet", time.Now()) // a processor pass
			if !live() {
				t.Fatal("an event with outbox entries is not live")
			}
			startRelay(t, st.(kafka.RelayStore), newProducer(t, brokers), fastRelay("r"))
			want := []string{wire.QueueEventID("quiet", 1), wire.QueueEventID("quiet", 2),
				wire.QueueEventID("quiet", 3), wire.QueueEventID("quiet", 4)}
			col.waitFor(t, want)
			waitUntil(t, "the outbox drained", func() bool {
				n, err := st.(kafka.RelayStore).OutboxLen(ctx, "quiet")
				return err == nil && n == 0
			})
			w.expire("quiet", time.Now())
			if live() {
				t.Fatal("an idle event with its outbox drained is still live")
			}
			later := time.Now().Add(24 * time.Hour)
			if n, err := st.ForgetIdle(ctx, later, time.Hour, 100); err != nil || n != 1 {
				t.Fatalf("ForgetIdle = %d, %v; want the idle event forgotten", n, err)
			}
			w.join("quiet", "u3")
			col.waitFor(t, append(want, wire.QueueEventID("quiet", 5)))
			for _, r := range col.records() {
				if header(r, "id") == wire.QueueEventID("quiet", 1) && decode(t, r).GetSessions()[0].GetUserId() != "u1" {
					t.Fatalf("record id quiet:1 reused: %v", decode(t, r))
				}
			}
		})
	}
}
