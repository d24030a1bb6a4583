package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
)

// outOfOrder lists the records of one event that came after a record of the
// same event with a higher seq, per topic and partition (Kafka orders only
// within a partition; one event's records share a key, so a partition).
func outOfOrder(t *testing.T, col *collector) []string {
	t.Helper()
	last := map[string]uint64{}
	var bad []string
	for _, r := range col.records() {
		m := decode(t, r)
		k := fmt.Sprintf("%s/%d/%s", r.Topic, r.Partition, m.EventId)
		if m.Seq < last[k] {
			bad = append(bad, fmt.Sprintf("%s: seq %d after %d", k, m.Seq, last[k]))
		}
		last[k] = max(last[k], m.Seq)
	}
	return bad
}

func wantInOrderOnce(t *testing.T, col *collector, want []string) {
	t.Helper()
	col.waitFor(t, want)
	time.Sleep(200 * time.Millisecond) // room for a late duplicate to show
	if bad := outOfOrder(t, col); len(bad) > 0 {
		t.Errorf("%d records out of order, e.g. %v", len(bad), bad[:min(5, len(bad))])
	}
	dup := 0
	for _, id := range want {
		if col.copies(id) > 1 {
			dup++
		}
	}
	if dup > 0 {
		t.Errorf("%d of %d changes produced more than once", dup, len(want))
	}
}

// TestTwoRelaysKeepEachEventInOrder: every replica runs a relay over the
// same outbox. They must share the events, not the entries of one event,
// or one event's changes reach Kafka out of order.
func TestTwoRelaysKeepEachEventInOrder(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) (*world, kafka.RelayStore){
		"memory": func(t *testing.T) (*world, kafka.RelayStore) { return newMemWorld(t) },
		"redis": func(t *testing.T) (*world, kafka.RelayStore) {
			st := dialRedis(t, redistest.Start(t))
			return newWorld(t, st), st
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			w, store := newStore(t)
			w.event("a", 3)
			w.event("b", 3)
			startRelay(t, store, newProducer(t, c.ListenAddrs()), fastRelay("r1"))
			startRelay(t, store, newProducer(t, c.ListenAddrs()), fastRelay("r2"))
			stop := traffic(t, w, "a", "b")
			time.Sleep(2 * time.Second)
			stop()
			col := newCollector(t, c.ListenAddrs())
			wantInOrderOnce(t, col, storeIDs(t, store.(queue.Store)))
		})
	}
}

// TestFullClientBufferKeepsOrder: a backlog larger than the client's record
// buffer (after an outage, many events at once) must not fail a record of a
// batch while later ones succeed.
func TestFullClientBufferKeepsOrder(t *testing.T) {
	c := newCluster(t)
	w, store := newMemWorld(t)
	for e := range 20 {
		id := "e" + strconv.Itoa(e)
		w.event(id, 1000)
		for i := range 100 {
			w.join(id, "u"+strconv.Itoa(i))
		}
	}
	cfg := testConfig(c.ListenAddrs())
	cfg.Opts = append(cfg.Opts, kgo.MaxBufferedRecords(300))
	cl, err := kafka.NewProducerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	rc := fastRelay("r")
	rc.Batch = 64
	rc.MaxInflight = 250
	r, _ := startRelay(t, store, cl, rc)
	wantInOrderOnce(t, newCollector(t, c.ListenAddrs()), storeIDs(t, store))
	if st := r.Stats(); st.Failures != 0 {
		t.Errorf("%d failed produces (%s): the relay overfilled the client's buffer", st.Failures, st.LastError)
	}
}

// TestOutageWithTwoRelays: the broker refuses produces for a while; both
// relays keep retrying. Claims are renewed at every step, so neither takes
// over the other's entries, and nothing is produced twice or out of order.
func TestOutageWithTwoRelays(t *testing.T) {
	c := newCluster(t)
	w, store := newMemWorld(t)
	w.event("a", 1000)
	w.event("b", 1000)
	refuse := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	for _, name := range []string{"r1", "r2"} {
		cfg := fastRelay(name)
		// Above the client's delivery timeout (1s in tests) plus BackoffMax.
		cfg.MinIdle = 3 * time.Second
		startRelay(t, store, newProducer(t, c.ListenAddrs()), cfg)
	}
	for i := range 20 {
		w.join("a", "u"+strconv.Itoa(i))
		w.join("b", "u"+strconv.Itoa(i))
	}
	time.Sleep(5 * time.Second) // longer than MinIdle
	refuse.Remove()
	wantInOrderOnce(t, newCollector(t, c.ListenAddrs()), storeIDs(t, store))
}

// TestUnreadableOutboxEntryIsDropped: an entry this build cannot read (a
// kind of change written by a newer build during a rolling deploy) is
// dropped with an error, and the event's later changes still go out.
func TestUnreadableOutboxEntryIsDropped(t *testing.T) {
	srv := redistest.Start(t)
	c := newCluster(t)
	store := dialRedis(t, srv)
	w := newWorld(t, store)
	w.event("a", 1000)
	for i := range 3 {
		w.join("a", "u"+strconv.Itoa(i))
	}
	if err := srv.Do(context.Background(), "XADD", "waitroom:{a}:outbox", "*", "change",
		`{"event_id":"a","seq":999,"update_type":"user_teleported"}`).Error(); err != nil {
		t.Fatal(err)
	}
	for i := 3; i < 6; i++ {
		w.join("a", "u"+strconv.Itoa(i))
	}
	cfg := fastRelay("r")
	startRelay(t, store, newProducer(t, c.ListenAddrs()), cfg)
	wantInOrderOnce(t, newCollector(t, c.ListenAddrs()), storeIDs(t, store))
	waitUntil(t, "the outbox to empty", func() bool {
		n, err := store.OutboxLen(context.Background(), "a")
		return err == nil && n == 0
	})
}
