package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/kafka"
)

// testPrefix checks that every topic name takes the prefix.
const testPrefix = "test."

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("KAFKA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func allTopics() []string {
	cfg := kafka.Config{TopicPrefix: testPrefix}
	return append(cfg.ProducedTopics(), cfg.Topic(kafka.TopicCheckoutCompleted))
}

// newCluster starts an in-process Kafka cluster with the topics seeded.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, allTopics()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testConfig(brokers []string) kafka.Config {
	return kafka.Config{
		Brokers:     brokers,
		TopicPrefix: testPrefix,
		Group:       "waitroom-test",
		// Short, so that a relay notices a refused produce quickly.
		DeliveryTimeout: time.Second,
		// A refused produce waits for fresh metadata, 5s apart by default.
		Opts: []kgo.Opt{kgo.MetadataMinAge(100 * time.Millisecond)},
	}
}

// newProducer returns a relay's client.
func newProducer(t testing.TB, brokers []string) *kgo.Client {
	t.Helper()
	cfg := testConfig(brokers)
	if os.Getenv("KAFKA_TEST_KGO_LOG") != "" {
		cfg.Opts = append(cfg.Opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	cl, err := kafka.NewProducerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// fastRelay is a relay config that reacts quickly, for tests.
func fastRelay(claimant string) kafka.RelayConfig {
	return kafka.RelayConfig{
		TopicPrefix: testPrefix,
		Claimant:    claimant,
		Batch:       16,
		MinIdle:     30 * time.Second,
		PollMin:     5 * time.Millisecond,
		PollMax:     50 * time.Millisecond,
		BackoffMin:  20 * time.Millisecond,
		BackoffMax:  200 * time.Millisecond,
		EventsEvery: 20 * time.Millisecond,
		ReportEvery: 100 * time.Millisecond,
	}
}

// startRelay runs a relay until the test ends, or until the returned stop is
// called (which waits for Run to return).
func startRelay(t testing.TB, store kafka.RelayStore, client *kgo.Client, cfg kafka.RelayConfig) (*kafka.Relay, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t).With("relay", cfg.Claimant)
	}
	r := kafka.NewRelay(store, client, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

// collector reads every produced topic from the start and keeps what it saw.
type collector struct {
	mu   sync.Mutex
	recs []*kgo.Record
	ids  map[string]int // record id header → copies seen

	cancel context.CancelFunc
	done   chan struct{}
}

func newCollector(t testing.TB, brokers []string) *collector {
	t.Helper()
	cfg := kafka.Config{TopicPrefix: testPrefix}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(cfg.ProducedTopics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{ids: make(map[string]int), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				c.mu.Lock()
				c.recs = append(c.recs, r)
				c.ids[header(r, kafka.HeaderID)]++
				c.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() {
		c.stop()
		cl.Close()
	})
	return c
}

func (c *collector) stop() {
	c.cancel()
	<-c.done
}

// waitFor waits until every id in want has been seen, failing the test after
// a generous deadline (correctness, not timing, is what is checked).
func (c *collector) waitFor(t testing.TB, want []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c.mu.Lock()
		var missing []string
		for _, id := range want {
			if c.ids[id] == 0 {
				missing = append(missing, id)
			}
		}
		c.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Fatalf("%d of %d records never arrived, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *collector) records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// copies is how many records with the id have been seen.
func (c *collector) copies(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[id]
}

// idSet returns the distinct record ids seen.
func (c *collector) idSet() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := make(map[string]bool, len(c.ids))
	for id := range c.ids {
		s[id] = true
	}
	return s
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func decode(t testing.TB, r *kgo.Record) *waitroomv1.QueueEvent {
	t.Helper()
	m := new(waitroomv1.QueueEvent)
	if err := protojson.Unmarshal(r.Value, m); err != nil {
		t.Fatalf("record %s: value is not a protojson QueueEvent: %v\n%s", header(r, kafka.HeaderID), err, r.Value)
	}
	return m
}

// waitUntil polls cond until it holds, failing after a generous deadline.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
