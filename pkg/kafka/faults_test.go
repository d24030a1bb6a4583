package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waitroom/waitroom/pkg/kafka"
)

// outage is how long the fault tests keep the broker away: a few seconds by
// default, KAFKA_TEST_OUTAGE (e.g. 30s) for the long run.
func outage(t testing.TB) time.Duration {
	v := os.Getenv("KAFKA_TEST_OUTAGE")
	if v == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("KAFKA_TEST_OUTAGE: %v", err)
	}
	return d
}

// lineCounter is a slog handler at info level that counts the lines written
// at warning level and above, and passes every line on to next.
type lineCounter struct {
	warnings *atomic.Int64
	next     slog.Handler
}

func newLineCounter(t testing.TB) lineCounter {
	return lineCounter{warnings: new(atomic.Int64), next: testLogger(t).Handler()}
}

func (h lineCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h lineCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.warnings.Add(1)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h lineCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return lineCounter{warnings: h.warnings, next: h.next.WithAttrs(as)}
}

func (h lineCounter) WithGroup(name string) slog.Handler {
	return lineCounter{warnings: h.warnings, next: h.next.WithGroup(name)}
}

// completions records the sessions a consumer completed.
type completions struct {
	mu  sync.Mutex
	ids []string
}

func (c *completions) CompleteCheckout(_ context.Context, id string) error {
	c.mu.Lock()
	c.ids = append(c.ids, id)
	c.mu.Unlock()
	return nil
}

func (c *completions) CompleteCheckoutToken(ctx context.Context, tok string) error {
	return c.CompleteCheckout(ctx, tok)
}

func (c *completions) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.ids, id)
}

func sendCompleted(t testing.TB, brokers []string, session string) {
	t.Helper()
	w, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := &kgo.Record{Topic: testPrefix + kafka.TopicCheckoutCompleted, Value: []byte(`{"session_id":"` + session + `"}`)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// The cluster is replaced by a new, empty one on the same address, whose
// topics are new (new topic ids): the relay drains the backlog that grew
// meanwhile to it and the consumer reads checkout.completed from it, without
// a restart. During the outage the relay, the consumer and their clients
// write a bounded number of warnings, however often they retry.
func TestClusterReplaced(t *testing.T) {
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, allTopics()...))
	if err != nil {
		t.Fatal(err)
	}
	brokers := c1.ListenAddrs()
	_, port, _ := net.SplitHostPort(brokers[0])
	p, _ := strconv.Atoi(port)

	lines := newLineCounter(t)
	log := kafka.LimitWarnings(slog.New(lines))
	cfg := testConfig(brokers)
	cfg.Logger = log

	producer, err := kafka.NewProducerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	w, store := newMemWorld(t)
	w.event("a", 5)
	rcfg := fastRelay("a")
	rcfg.Logger = log
	r, _ := startRelay(t, store, producer, rcfg)

	consumerClient, err := kafka.NewConsumerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := &completions{}
	cons := kafka.NewCheckoutConsumer(consumerClient, done, kafka.CheckoutConsumerConfig{
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, Logger: log,
	})
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan error, 1)
	go func() { consumed <- cons.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-consumed
		kafka.CloseClient(consumerClient, 5*time.Second)
	})

	stopTraffic := traffic(t, w, "a")
	waitUntil(t, "some changes relayed", func() bool { return r.Stats().Relayed > 20 })
	sendCompleted(t, brokers, "before")
	waitUntil(t, "the consumer reads the first cluster", func() bool { return done.has("before") })

	c1.Close()
	warnings := lines.warnings.Load()
	start := time.Now()
	seen := map[string]bool{}
	for _, id := range storeIDs(t, store) {
		seen[id] = true // relayed to the first cluster, or possibly lost with it
	}
	time.Sleep(outage(t))
	stopTraffic()
	// Counted before the new cluster starts: warnings that the recovery
	// writes are a handful, and bounded by the same limits.
	warned := lines.warnings.Load() - warnings
	took := time.Since(start)

	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p), kfake.SeedTopics(3, allTopics()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)

	var want []string
	for _, id := range storeIDs(t, store) {
		if !seen[id] {
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		t.Fatal("no changes were made during the outage")
	}
	col := newCollector(t, brokers)
	col.waitFor(t, want)
	waitUntil(t, "the outbox drains", func() bool {
		n, _ := store.OutboxLen(context.Background(), "a")
		return n == 0
	})
	sendCompleted(t, brokers, "after")
	waitUntil(t, "the consumer reads the new cluster", func() bool { return done.has("after") })

	// Three warnings a second in all, and the second they started in.
	if limit := 3 * (int64(took/time.Second) + 2); warned > limit {
		t.Errorf("%d warnings during a %v outage, want at most %d", warned, took.Round(time.Second), limit)
	}
	t.Logf("%d changes during the outage; %d warnings in %v; stats %+v", len(want), warned, took.Round(time.Millisecond), r.Stats())
}

// The topics are deleted and created again on the same cluster (new topic
// ids): the relay and the consumer carry on with the new ones.
func TestTopicsRecreated(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	w, store := newMemWorld(t)
	w.event("a", 5)
	r, _ := startRelay(t, store, newProducer(t, brokers), fastRelay("a"))
	consumerClient, err := kafka.NewConsumerClient(testConfig(brokers))
	if err != nil {
		t.Fatal(err)
	}
	done := &completions{}
	cons := kafka.NewCheckoutConsumer(consumerClient, done, kafka.CheckoutConsumerConfig{
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, Logger: testLogger(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan error, 1)
	go func() { consumed <- cons.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-consumed
		kafka.CloseClient(consumerClient, 5*time.Second)
	})

	w.join("a", "u1")
	waitUntil(t, "a change relayed", func() bool { return r.Stats().Relayed > 0 })
	sendCompleted(t, brokers, "before")
	waitUntil(t, "the consumer reads the topic", func() bool { return done.has("before") })

	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	deleteTopics(t, admin, allTopics()...)
	if _, err := kafka.CreateTopics(context.Background(), kafka.Config{Brokers: brokers, TopicPrefix: testPrefix}); err != nil {
		t.Fatal(err)
	}

	w.join("a", "u2")
	want := storeIDs(t, store)
	col := newCollector(t, brokers)
	col.waitFor(t, want[len(want)-1:])
	sendCompleted(t, brokers, "after")
	waitUntil(t, "the consumer reads the new topic", func() bool { return done.has("after") })
}

// A broker that accepts connections and never answers: closing the
// clients, stopping the relay and the consumer all end within their bounds.
func TestShutdownWithFrozenBroker(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	w, store := newMemWorld(t)
	w.event("a", 5)
	cfg := testConfig(brokers)
	producer, err := kafka.NewProducerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg := fastRelay("a")
	rcfg.ShutdownGrace = 200 * time.Millisecond
	r, stopRelay := startRelay(t, store, producer, rcfg)
	consumerClient, err := kafka.NewConsumerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := &completions{}
	cons := kafka.NewCheckoutConsumer(consumerClient, done, kafka.CheckoutConsumerConfig{
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		CommitTimeout: 200 * time.Millisecond, Logger: testLogger(t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	consumed := make(chan error, 1)
	go func() { consumed <- cons.Run(ctx) }()

	w.join("a", "u1")
	waitUntil(t, "a change relayed", func() bool { return r.Stats().Relayed > 0 })
	sendCompleted(t, brokers, "before")
	waitUntil(t, "the consumer reads the topic", func() bool { return done.has("before") })

	freeze(t, c)
	w.join("a", "u2") // its produce will never be answered
	time.Sleep(200 * time.Millisecond)

	// The bounds are generous: they tell "returns" from "hangs on the
	// broker", which would take minutes.
	const bound = 10 * time.Second
	start := time.Now()
	cancel()
	<-consumed
	kafka.CloseClient(consumerClient, 500*time.Millisecond)
	stopRelay()
	kafka.CloseClient(producer, 500*time.Millisecond)
	if took := time.Since(start); took > bound {
		t.Errorf("stopping took %v with the broker frozen", took)
	}
	if n, _ := store.OutboxLen(context.Background(), "a"); n == 0 {
		t.Error("the unanswered change left the outbox")
	}
}

// freeze makes c take requests and never answer them, like a broker that
// was sent SIGSTOP, until the test ends.
func freeze(t testing.TB, c *kfake.Cluster) {
	t.Helper()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		<-block
		return nil, errors.New("frozen"), true
	})
}

func deleteTopics(t testing.TB, cl *kgo.Client, topics ...string) {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	for _, name := range topics {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = append(req.TopicNames, name)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("delete %v: %v", rt.Topic, err)
		}
	}
}
