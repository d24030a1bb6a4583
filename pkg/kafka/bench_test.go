package kafka_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// BenchmarkJoinWithRelay measures a join (the store call a JoinQueue request
// makes) while a relay drains the outbox to a broker that is up, refusing
// every produce, or gone. A request never waits on Kafka, so the three
// should match; p50 and p99 are reported per case. Joins are paced (a 1ms
// pause, not timed, every 20) so that the relay runs alongside them.
//
//	go test ./pkg/kafka -run '^$' -bench JoinWithRelay -benchtime 20000x
func BenchmarkJoinWithRelay(b *testing.B) {
	for _, broker := range []string{"up", "refusing", "stopped"} {
		b.Run("broker="+broker, func(b *testing.B) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, allTopics()...))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			store := memstore.New(memstore.Config{Outbox: true})
			cfg := fastRelay("bench")
			cfg.Batch = 256
			r, stop := startRelay(b, store, newProducer(b, c.ListenAddrs()), cfg)
			defer stop()

			ctx := context.Background()
			n := 0
			join := func() time.Duration {
				start := time.Now()
				_, _, _, err := store.Join(ctx, queue.JoinParams{
					SessionID: queue.NewSessionID("bench"), UserID: "u" + strconv.Itoa(n), EventID: "bench",
					Now: start, TTL: time.Hour,
					NewEvent: queue.Event{State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute},
				})
				d := time.Since(start)
				n++
				if err != nil {
					b.Fatal(err)
				}
				return d
			}

			// Measure only once the relay is in the state under test:
			// relaying, or failing and backing off.
			switch broker {
			case "refusing":
				c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
			case "stopped":
				c.Close()
			}
			join()
			waitUntil(b, "the relay is busy", func() bool {
				st := r.Stats()
				return st.Relayed > 0 || st.Failures > 0
			})

			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				lat = append(lat, join())
				// Paced, so the relay works (or fails) alongside the joins
				// rather than after them.
				if len(lat)%20 == 0 {
					b.StopTimer()
					time.Sleep(time.Millisecond)
					b.StartTimer()
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			st := r.Stats()
			b.ReportMetric(float64(st.Relayed), "relayed")
			b.ReportMetric(float64(st.Failures), "failures")
		})
	}
}
