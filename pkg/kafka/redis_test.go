package kafka_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// dialRedis returns a store client of its own, as each replica has.
func dialRedis(t *testing.T, srv *redistest.Server) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Dial(context.Background(), []string{srv.Addr()}, redisstore.Config{Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// noAckStore is a replica that dies between the broker's acknowledgement and
// the outbox ack: every AckOutbox fails.
type noAckStore struct{ kafka.RelayStore }

func (noAckStore) AckOutbox(context.Context, string, []string) error {
	return errors.New("replica crashed before acking")
}

// deadBroker is an address nothing listens on.
func deadBroker(t *testing.T) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return []string{addr}
}

// Crash safety over one real Redis, with each relay (replica) on its own
// connection: two live relays share the outbox without duplicates, and a
// relay that dies holding claims — before producing, or after producing but
// before acking — loses nothing, because another takes its entries over.
func TestRelayCrashSafetyRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := newCluster(t)
	brokers := c.ListenAddrs()
	storeA, storeB := dialRedis(t, srv), dialRedis(t, srv)
	w := newWorld(t, storeA)
	w.event("a", 3)
	w.event("b", 3)
	col := newCollector(t, brokers)

	t.Run("two live relays", func(t *testing.T) {
		cfg1, cfg2 := fastRelay("replica-1"), fastRelay("replica-2")
		r1, stop1 := startRelay(t, storeA, newProducer(t, brokers), cfg1)
		r2, stop2 := startRelay(t, storeB, newProducer(t, brokers), cfg2)
		stopTraffic := traffic(t, w, "a", "b")
		waitUntil(t, "both relays work", func() bool { return r1.Stats().Relayed > 10 && r2.Stats().Relayed > 10 })
		stopTraffic()
		want := storeIDs(t, storeA)
		col.waitFor(t, want)
		waitUntil(t, "all acked", func() bool { return r1.Stats().Relayed+r2.Stats().Relayed == uint64(len(want)) })
		stop1()
		stop2()
		if n := len(col.records()); n != len(want) {
			t.Errorf("%d records for %d changes: live relays produced some twice", n, len(want))
		}
	})

	t.Run("dies before producing", func(t *testing.T) {
		cfg := fastRelay("doomed-1")
		cfg.Batch = 100 // claims all it sees
		doomed, stopDoomed := startRelay(t, storeA, newProducer(t, deadBroker(t)), cfg)
		for i := range 20 {
			w.join("a", "early"+strconv.Itoa(i))
		}
		waitUntil(t, "the doomed relay holds claims", func() bool { return doomed.Stats().Failures >= 20 })
		stopDoomed()
		if got, err := storeB.ClaimOutbox(context.Background(), "a", "probe", 100, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("fresh claims were handed out again: %d, %v", len(got), err)
		}
		for i := range 10 {
			w.join("b", "meanwhile"+strconv.Itoa(i))
		}
		heir := fastRelay("heir-1")
		heir.MinIdle = 500 * time.Millisecond
		startRelay(t, storeB, newProducer(t, brokers), heir)
		col.waitFor(t, storeIDs(t, storeA))
		waitDrained(t, storeB, "a", "b")
	})

	t.Run("dies after producing, before acking", func(t *testing.T) {
		before := len(col.records())
		cfg := fastRelay("doomed-2")
		cfg.Batch = 100 // holds all it produced
		doomed, stopDoomed := startRelay(t, noAckStore{storeA}, newProducer(t, brokers), cfg)
		_, st, err := storeA.Event(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		var fresh []string
		for i := range 20 {
			w.join("a", "late"+strconv.Itoa(i))
			fresh = append(fresh, wire.QueueEventID("a", st.Seq+uint64(i)+1))
		}
		want := storeIDs(t, storeA)
		col.waitFor(t, want) // produced, so the broker has them …
		waitUntil(t, "the ack fails", func() bool { return doomed.Stats().Failures > 0 })
		stopDoomed() // … but the outbox still does too.
		if n, _ := storeB.OutboxLen(context.Background(), "a"); n == 0 {
			t.Fatal("the outbox lost entries that were never acked")
		}
		heir := fastRelay("heir-2")
		heir.MinIdle = 500 * time.Millisecond
		startRelay(t, storeB, newProducer(t, brokers), heir)
		waitDrained(t, storeB, "a", "b")
		// The heir produced them again: same ids, same payloads.
		waitUntil(t, "the heir's copies arrive", func() bool {
			for _, id := range fresh {
				if col.copies(id) < 2 {
					return false
				}
			}
			return true
		})
		byID := map[string]string{}
		for _, rec := range col.records()[before:] {
			id := header(rec, kafka.HeaderID)
			if prev, ok := byID[id]; ok && prev != string(rec.Value) {
				t.Errorf("%s was produced twice with different payloads", id)
			}
			byID[id] = string(rec.Value)
		}
		col.waitFor(t, want)
	})
}

func waitDrained(t *testing.T, s kafka.RelayStore, eventIDs ...string) {
	t.Helper()
	waitUntil(t, "the outboxes drain", func() bool {
		for _, id := range eventIDs {
			if n, err := s.OutboxLen(context.Background(), id); err != nil || n != 0 {
				return false
			}
		}
		return true
	})
}
