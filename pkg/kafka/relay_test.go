package kafka_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
)

// Every kind of state change yields exactly one record, with the key,
// headers and protojson payload the change calls for.
func TestRelayRecordsEveryChange(t *testing.T) {
	c := newCluster(t)
	w, store := newMemWorld(t)
	col := newCollector(t, c.ListenAddrs())
	r, _ := startRelay(t, store, newProducer(t, c.ListenAddrs()), fastRelay("a"))

	w.event("concert", 2)
	w.event("match", 1)
	var ss []queue.Session
	for i := range 5 {
		ss = append(ss, w.join("concert", fmt.Sprintf("u%d", i)))
	}
	w.join("match", "v0")
	w.leave(ss[4].ID)
	if got := w.admit("concert"); len(got) != 2 {
		t.Fatalf("admitted %d, want 2", len(got))
	}
	w.complete(ss[0].ID)
	w.admit("concert")                                 // ss[2]
	w.expire("concert", time.Now().Add(2*time.Minute)) // ss[1] and ss[2] miss their deadline

	want := w.ids()
	if len(want) != 11 {
		t.Fatalf("recorded %d changes, want 11", len(want))
	}
	if !sameSet(want, storeIDs(t, store)) {
		t.Fatalf("recorder and store disagree: %v vs %v", want, storeIDs(t, store))
	}
	col.waitFor(t, want)
	waitUntil(t, "outbox drained", func() bool { return r.Stats().Relayed == uint64(len(want)) })
	for _, ev := range []string{"concert", "match"} {
		if n, _ := store.OutboxLen(context.Background(), ev); n != 0 {
			t.Errorf("outbox of %s holds %d entries after relaying", ev, n)
		}
	}

	recs := col.records()
	if len(recs) != len(want) {
		t.Errorf("%d records for %d changes", len(recs), len(want))
	}
	kinds := map[string]int{}
	lastSeq := map[string]uint64{} // topic/partition/key → seq, to check order
	for _, rec := range recs {
		id := header(rec, kafka.HeaderID)
		ch, ok := w.change(id)
		if !ok {
			t.Errorf("record %q matches no change", id)
			continue
		}
		typ, _ := wire.QueueEventType(ch.Kind)
		kinds[typ]++
		if rec.Topic != testPrefix+typ || string(rec.Key) != ch.EventID ||
			header(rec, kafka.HeaderType) != typ || header(rec, kafka.HeaderContentType) != "application/json" {
			t.Errorf("record %s: topic %q key %q headers %v", id, rec.Topic, rec.Key, rec.Headers)
		}
		m := decode(t, rec)
		checkPayload(t, m, ch)
		k := fmt.Sprintf("%s/%d/%s", rec.Topic, rec.Partition, rec.Key)
		if m.GetSeq() <= lastSeq[k] {
			t.Errorf("%s: seq %d after %d", k, m.GetSeq(), lastSeq[k])
		}
		lastSeq[k] = m.GetSeq()
	}
	wantKinds := map[string]int{"queue.joined": 6, "queue.left": 1, "queue.admitted": 2, "queue.completed": 1, "queue.expired": 1}
	for k, n := range wantKinds {
		if kinds[k] != n {
			t.Errorf("%d %s records, want %d", kinds[k], k, n)
		}
	}
}

func checkPayload(t *testing.T, m *waitroomv1.QueueEvent, c queue.Change) {
	t.Helper()
	typ, _ := wire.QueueEventType(c.Kind)
	id := wire.QueueEventID(c.EventID, c.Seq)
	if m.GetId() != id || m.GetType() != typ || m.GetEventId() != c.EventID || m.GetSeq() != c.Seq ||
		m.QueueLength == nil || m.GetQueueLength() != c.QueueLength || !m.GetAt().AsTime().Equal(c.At) {
		t.Errorf("payload %v does not match change %+v", m, c)
	}
	if c.Kind == queue.ChangeAdmitted {
		if !m.GetCheckoutDeadline().AsTime().Equal(c.CheckoutDeadline) || c.CheckoutDeadline.IsZero() {
			t.Errorf("%s: checkout_deadline %v, want %v", id, m.GetCheckoutDeadline(), c.CheckoutDeadline)
		}
	} else if m.CheckoutDeadline != nil {
		t.Errorf("%s: unexpected checkout_deadline", id)
	}
	if len(m.GetSessions()) != len(c.Sessions) {
		t.Fatalf("%s: %d sessions, want %d", id, len(m.GetSessions()), len(c.Sessions))
	}
	for i, s := range c.Sessions {
		got := m.GetSessions()[i]
		if got.GetSessionId() != s.ID || got.GetUserId() != s.UserID || got.GetTicket() != s.Ticket ||
			int(got.GetStatus()) != int(s.Status) || int(got.GetExpiryReason()) != int(s.Reason) {
			t.Errorf("%s: session %d is %v, want %+v", id, i, got, s)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// traffic keeps joining, leaving and admitting until stop is called, and
// fails the test if any of those requests fails.
func traffic(t *testing.T, w *world, eventIDs ...string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, ev := range eventIDs {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				s := w.join(ev, "user-"+strconv.Itoa(i))
				if i%3 == 0 {
					w.leave(s.ID)
				}
				if i%4 == 0 {
					for _, a := range w.admit(ev) {
						w.complete(a.ID)
					}
				}
				time.Sleep(3 * time.Millisecond) // keep the shared machine usable
			}
		})
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// A broker that refuses every produce fails no request; once it accepts
// again, every change made meanwhile reaches Kafka.
func TestRelayBrokerRefusesProduces(t *testing.T) {
	c := newCluster(t)
	w, store := newMemWorld(t)
	w.event("a", 5)
	w.event("b", 5)
	r, _ := startRelay(t, store, newProducer(t, c.ListenAddrs()), fastRelay("a"))
	stopTraffic := traffic(t, w, "a", "b")
	waitUntil(t, "some changes relayed", func() bool { return r.Stats().Relayed > 20 })

	refuse := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	waitUntil(t, "the relay sees the outage", func() bool { return r.Stats().Failures > 0 })
	before := len(w.ids())
	waitUntil(t, "changes pile up in the outbox", func() bool {
		return len(w.ids()) > before+50 && r.Stats().Backlog > 0
	})
	refuse.Remove()
	stopTraffic()

	want := storeIDs(t, store)
	col := newCollector(t, c.ListenAddrs())
	col.waitFor(t, want)
	if got := col.idSet(); len(got) != len(want) {
		t.Errorf("Kafka holds %d distinct ids, the store made %d changes", len(got), len(want))
	}
	st := r.Stats()
	if st.LastError == "" {
		t.Errorf("no last error in %+v", st)
	}
	t.Logf("%d changes; stats %+v", len(want), st)
}

// A broker that goes away entirely and comes back (with its log) gets every
// change made while it was down.
func TestRelayBrokerStopped(t *testing.T) {
	dir := t.TempDir()
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, allTopics()...), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	brokers := c1.ListenAddrs()
	_, port, _ := net.SplitHostPort(brokers[0])
	p, _ := strconv.Atoi(port)

	w, store := newMemWorld(t)
	w.event("a", 5)
	r, _ := startRelay(t, store, newProducer(t, brokers), fastRelay("a"))
	stopTraffic := traffic(t, w, "a")
	waitUntil(t, "some changes relayed", func() bool { return r.Stats().Relayed > 20 })

	c1.Close()
	waitUntil(t, "the relay sees the outage", func() bool { return r.Stats().Failures > 0 })
	before := len(w.ids())
	waitUntil(t, "changes pile up", func() bool { return len(w.ids()) > before+50 })

	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir), kfake.Ports(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)
	stopTraffic()

	want := storeIDs(t, store)
	col := newCollector(t, brokers)
	col.waitFor(t, want)
	waitUntil(t, "the outbox drains", func() bool {
		n, _ := store.OutboxLen(context.Background(), "a")
		return n == 0
	})
	t.Logf("%d changes; stats %+v", len(want), r.Stats())
}

// A relay that died holding claims loses nothing: another relay takes the
// entries over once the claims have gone idle.
func TestRelayTakesOverDeadClaims(t *testing.T) {
	c := newCluster(t)
	w, store := newMemWorld(t)
	w.event("a", 5)
	for i := range 30 {
		w.join("a", "u"+strconv.Itoa(i))
	}

	// A relay claims everything and dies before the broker acknowledges:
	// its produces are refused, then it stops.
	refuse := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: -1})
	deadCfg := fastRelay("dead")
	deadCfg.Batch = 100
	dead, stopDead := startRelay(t, store, newProducer(t, c.ListenAddrs()), deadCfg)
	waitUntil(t, "the doomed relay fails", func() bool { return dead.Stats().Failures >= 30 })
	stopDead()
	refuse.Remove()
	if n, _ := store.OutboxLen(context.Background(), "a"); n != 30 {
		t.Fatalf("outbox holds %d entries, want 30", n)
	}
	// Claims it made just before dying are not up for grabs yet.
	if got, _ := store.ClaimOutbox(context.Background(), "a", "probe", 100, time.Minute); len(got) != 0 {
		t.Fatalf("a live claim was handed out again: %d entries", len(got))
	}

	// More changes arrive while nobody relays.
	for i := range 10 {
		w.join("a", "late"+strconv.Itoa(i))
	}

	heirCfg := fastRelay("heir")
	heirCfg.MinIdle = 300 * time.Millisecond
	col := newCollector(t, c.ListenAddrs())
	startRelay(t, store, newProducer(t, c.ListenAddrs()), heirCfg)
	want := w.ids()
	col.waitFor(t, want)
	waitUntil(t, "the outbox drains", func() bool {
		n, _ := store.OutboxLen(context.Background(), "a")
		return n == 0
	})
}

// Two healthy relays over one store share the work without producing any
// entry twice.
func TestTwoRelaysShareTheOutbox(t *testing.T) {
	c := newCluster(t)
	w, store := newMemWorld(t)
	w.event("a", 3)
	w.event("b", 3)
	w.event("c", 3)
	r1, _ := startRelay(t, store, newProducer(t, c.ListenAddrs()), fastRelay("r1"))
	r2, _ := startRelay(t, store, newProducer(t, c.ListenAddrs()), fastRelay("r2"))
	stopTraffic := traffic(t, w, "a", "b", "c")
	waitUntil(t, "both relays work", func() bool { return r1.Stats().Relayed > 10 && r2.Stats().Relayed > 10 })
	stopTraffic()

	want := storeIDs(t, store)
	col := newCollector(t, c.ListenAddrs())
	col.waitFor(t, want)
	waitUntil(t, "all acked", func() bool { return r1.Stats().Relayed+r2.Stats().Relayed == uint64(len(want)) })
	if recs := col.records(); len(recs) != len(want) {
		t.Errorf("%d records for %d changes: some were produced twice", len(recs), len(want))
	}
}

// Wake, Backlog and the defaults work without a broker at all: a relay whose
// broker never answers keeps every entry.
func TestRelayWithoutBrokerKeepsEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now

	w, store := newMemWorld(t)
	w.event("a", 1)
	cl, err := kafka.NewProducerClient(kafka.Config{Brokers: []string{addr}, TopicPrefix: testPrefix, DeliveryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r, _ := startRelay(t, store, cl, fastRelay("lonely"))
	for i := range 5 {
		w.join("a", "u"+strconv.Itoa(i))
		r.Wake()
	}
	waitUntil(t, "failures reported", func() bool { return r.Stats().Failures > 0 && r.Stats().Backlog == 5 })
	n, err := r.Backlog(context.Background())
	if err != nil || n != 5 {
		t.Errorf("Backlog = %d, %v; want 5", n, err)
	}
}
