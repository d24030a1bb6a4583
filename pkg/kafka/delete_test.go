package kafka_test

import (
	"context"
	"testing"
	"time"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// TestRelayDeletedEvent: a forced DeleteEvent's expiries reach Kafka as
// queue.expired with reason EVENT_DELETED, though the event is gone by the
// time the relay reads them, through either store's outbox.
func TestRelayDeletedEvent(t *testing.T) {
	for name, store := range map[string]func(t *testing.T) queue.Store{
		"memory": func(t *testing.T) queue.Store { return memstore.New(memstore.Config{Outbox: true}) },
		"redis":  func(t *testing.T) queue.Store { return dialRedis(t, redistest.Start(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			st := store(t)
			w := newWorld(t, st)
			col := newCollector(t, c.ListenAddrs())
			w.event("gone", 1)
			queued, admitted := w.join("gone", "q"), w.join("gone", "a")
			w.admit("gone")
			ended, done, err := st.DeleteEvent(context.Background(), "gone", time.Now(), true, 10)
			if err != nil || !done || len(ended) != 2 {
				t.Fatalf("DeleteEvent = %v, %v, %v", ended, done, err)
			}
			startRelay(t, st.(kafka.RelayStore), newProducer(t, c.ListenAddrs()), fastRelay("a"))
			col.waitFor(t, w.ids())
			reasons := map[string]waitroomv1.ExpiryReason{}
			for _, rec := range col.records() {
				if m := decode(t, rec); m.GetType() == "queue.expired" {
					for _, s := range m.GetSessions() {
						reasons[s.GetSessionId()] = s.GetExpiryReason()
					}
				}
			}
			for _, s := range []queue.Session{queued, admitted} {
				if reasons[s.ID] != waitroomv1.ExpiryReason_EXPIRY_REASON_EVENT_DELETED {
					t.Fatalf("expiry reasons on Kafka: %v", reasons)
				}
			}
		})
	}
}
