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

// TestRelayExpiryReasons: queue.expired says why each session expired,
// through either store's outbox: a head passed over while away and not
// back in time, an admitted session past its checkout window, and one that
// waited past the session TTL.
func TestRelayExpiryReasons(t *testing.T) {
	for name, store := range map[string]func(t *testing.T) queue.Store{
		"memory": func(t *testing.T) queue.Store { return memstore.New(memstore.Config{Outbox: true}) },
		"redis":  func(t *testing.T) queue.Store { return dialRedis(t, redistest.Start(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			st := store(t)
			w := newWorld(t, st)
			col := newCollector(t, c.ListenAddrs())
			startRelay(t, st.(kafka.RelayStore), newProducer(t, c.ListenAddrs()), fastRelay("a"))
			w.event("reasons", 1)
			away, here, late := w.join("reasons", "away"), w.join("reasons", "here"), w.join("reasons", "late")
			now := time.Now()
			if err := st.MarkPresent(context.Background(), "reasons", []string{here.ID}, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			got, err := st.AdmitPresent(context.Background(), "reasons", now.Add(time.Second), 10,
				queue.PresenceRule{Grace: time.Millisecond, Hold: time.Minute})
			if err != nil || len(got) != 1 || got[0].ID != here.ID {
				t.Fatalf("AdmitPresent = %v, %v; want the present session", got, err)
			}
			w.expire("reasons", now.Add(2*w.ttl))
			want := w.ids()
			col.waitFor(t, want)
			reasons := map[string]waitroomv1.ExpiryReason{}
			for _, rec := range col.records() {
				if m := decode(t, rec); m.GetType() == "queue.expired" {
					for _, s := range m.GetSessions() {
						reasons[s.GetSessionId()] = s.GetExpiryReason()
					}
				}
			}
			if reasons[away.ID] != waitroomv1.ExpiryReason_EXPIRY_REASON_ABSENT ||
				reasons[here.ID] != waitroomv1.ExpiryReason_EXPIRY_REASON_CHECKOUT_WINDOW ||
				reasons[late.ID] != waitroomv1.ExpiryReason_EXPIRY_REASON_QUEUE_TTL {
				t.Fatalf("expiry reasons on Kafka: %v", reasons)
			}
		})
	}
}
