package kafka_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// The domain service is what the consumer drives in production.
var _ kafka.Completer = (*queue.Service)(nil)

// fakeTokens issues "tok:<session id>" as a checkout token.
type fakeTokens struct{}

func (fakeTokens) Issue(s queue.Session) (string, error) { return "tok:" + s.ID, nil }
func (fakeTokens) SessionID(tok string) (string, error) {
	id, ok := strings.CutPrefix(tok, "tok:")
	if !ok {
		return "", &queue.InvalidArgumentError{Field: "checkout_token", Reason: "not a token"}
	}
	return id, nil
}

type checkoutWorld struct {
	store   *memstore.Store
	service *queue.Service
	brokers []string
	writer  *kgo.Client
}

func newCheckoutWorld(t *testing.T) *checkoutWorld {
	c := newCluster(t)
	store := memstore.New(memstore.Config{})
	svc := queue.NewService(store, fakeTokens{}, fanout.New(store, fanout.Config{}), queue.Config{
		SessionTTL: time.Hour, CheckoutWindow: time.Minute, DefaultMaxConcurrent: 1,
		CheckoutURL: "https://checkout.example/", ProcessInterval: time.Second,
		Logger: testLogger(t),
	})
	t.Cleanup(svc.Close)
	w, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return &checkoutWorld{store: store, service: svc, brokers: c.ListenAddrs(), writer: w}
}

// send writes raw values to checkout.completed, keyed like a checkout
// service would (by session), in order.
func (cw *checkoutWorld) send(t *testing.T, values ...string) {
	t.Helper()
	for _, v := range values {
		rec := &kgo.Record{Topic: testPrefix + kafka.TopicCheckoutCompleted, Key: []byte("k"), Value: []byte(v)}
		if err := cw.writer.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func (cw *checkoutWorld) join(t *testing.T, user string) string {
	t.Helper()
	v, _, err := cw.service.Join(context.Background(), user, "show")
	if err != nil {
		t.Fatal(err)
	}
	return v.Session.ID
}

func (cw *checkoutWorld) status(t *testing.T, id string) queue.Status {
	t.Helper()
	s, _, err := cw.store.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

func (cw *checkoutWorld) seq(t *testing.T) uint64 {
	t.Helper()
	_, st, err := cw.store.Event(context.Background(), "show")
	if err != nil {
		t.Fatal(err)
	}
	return st.Seq
}

func (cw *checkoutWorld) process(t *testing.T) {
	t.Helper()
	if err := cw.service.ProcessOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// startConsumer runs a consumer that retries quickly in the test group until
// stop (or the test's end); stop waits for it to commit and leave.
func (cw *checkoutWorld) startConsumer(t *testing.T, completer kafka.Completer) (stop func()) {
	t.Helper()
	return cw.startConsumerWith(t, completer, kafka.CheckoutConsumerConfig{
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Logger: testLogger(t),
	})
}

func (cw *checkoutWorld) startConsumerWith(t *testing.T, completer kafka.Completer, cfg kafka.CheckoutConsumerConfig) (stop func()) {
	t.Helper()
	cl, err := kafka.NewConsumerClient(testConfig(cw.brokers))
	if err != nil {
		t.Fatal(err)
	}
	cons := kafka.NewCheckoutConsumer(cl, completer, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
			cl.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// A checkout.completed record frees the slot, so the next visitor is
// admitted; a duplicate, a late one, an unknown session and malformed
// records change nothing.
func TestCheckoutCompletedFreesTheSlot(t *testing.T) {
	cw := newCheckoutWorld(t)
	first, second, third := cw.join(t, "u1"), cw.join(t, "u2"), cw.join(t, "u3")
	cw.process(t)
	if cw.status(t, first) != queue.StatusReady || cw.status(t, second) != queue.StatusQueued {
		t.Fatal("the first visitor was not admitted alone")
	}
	cw.startConsumer(t, cw.service)

	cw.send(t, `{"session_id":"`+first+`"}`)
	waitUntil(t, "the first checkout completes", func() bool { return cw.status(t, first) == queue.StatusCompleted })
	cw.process(t)
	if cw.status(t, second) != queue.StatusReady {
		t.Fatalf("the next visitor is %v, want ready", cw.status(t, second))
	}

	before := cw.seq(t)
	cw.send(t,
		`{"session_id":"`+first+`","event_id":"show","completed_at":"2026-01-01T00:00:00Z","id":"dup"}`, // duplicate
		`{"checkout_token":"tok:`+first+`"}`,                                                            // the same, by token
		`{"session_id":"`+third+`"}`,                                                                    // not admitted yet
		`{"session_id":"show~00000000000000000000000000"}`,                                              // unknown session
		`{"session_id":"not a session"}`,                                                                // malformed id
		`{"checkout_token":"forged"}`,                                                                   // bad token
		`{"session_id":`, `{}`, ``, `CHECKOUT_COMPLETED`,                                                // malformed records
		`{"checkout_token":"tok:`+second+`","extra":true}`, // a real one, by token, after them all
	)
	waitUntil(t, "the second checkout completes", func() bool { return cw.status(t, second) == queue.StatusCompleted })
	if got := cw.seq(t); got != before+1 {
		t.Errorf("the harmless records made %d changes", got-before-1)
	}
	if cw.status(t, third) != queue.StatusQueued {
		t.Errorf("an early completion moved the third visitor to %v", cw.status(t, third))
	}
}

// flakyCompleter fails with ErrUnavailable while down is set, and counts the
// sessions it completed.
type flakyCompleter struct {
	next kafka.Completer

	mu        sync.Mutex
	down      bool
	attempts  int
	completed []string
}

func (f *flakyCompleter) setDown(d bool) {
	f.mu.Lock()
	f.down = d
	f.mu.Unlock()
}

func (f *flakyCompleter) CompleteCheckout(ctx context.Context, id string) error {
	f.mu.Lock()
	f.attempts++
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.Join(queue.ErrUnavailable, errors.New("connection refused"))
	}
	err := f.next.CompleteCheckout(ctx, id)
	f.mu.Lock()
	f.completed = append(f.completed, id)
	f.mu.Unlock()
	return err
}

func (f *flakyCompleter) CompleteCheckoutToken(ctx context.Context, tok string) error {
	id, err := fakeTokens{}.SessionID(tok)
	if err != nil {
		return err
	}
	return f.CompleteCheckout(ctx, id)
}

func (f *flakyCompleter) snapshot() (attempts int, completed []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts, append([]string(nil), f.completed...)
}

// While the store is unavailable the record is retried, not skipped, and
// records after it wait; offsets are committed only for handled records, so
// a record left unhandled at shutdown is delivered again to the next member.
func TestCheckoutConsumerRetriesAndCommits(t *testing.T) {
	cw := newCheckoutWorld(t)
	a, b := cw.join(t, "u1"), cw.join(t, "u2")
	cw.process(t)

	flaky := &flakyCompleter{next: cw.service, down: true}
	stop := cw.startConsumer(t, flaky)
	cw.send(t, `{"session_id":"`+a+`"}`)
	waitUntil(t, "several attempts", func() bool { n, _ := flaky.snapshot(); return n >= 3 })
	if cw.status(t, a) != queue.StatusReady {
		t.Fatal("completed while the store was down")
	}
	flaky.setDown(false)
	waitUntil(t, "the slot is freed", func() bool { return cw.status(t, a) == queue.StatusCompleted })
	cw.process(t)

	// A record the consumer cannot finish before it stops stays uncommitted.
	flaky.setDown(true)
	n0, _ := flaky.snapshot()
	cw.send(t, `{"session_id":"`+b+`"}`)
	waitUntil(t, "the second record is tried", func() bool { n, _ := flaky.snapshot(); return n > n0 })
	stop()

	// The next member of the group starts after the last committed record:
	// it sees the unfinished one again, and not the finished one.
	next := &flakyCompleter{next: cw.service}
	cw.startConsumer(t, next)
	waitUntil(t, "the unfinished record is redelivered", func() bool { return cw.status(t, b) == queue.StatusCompleted })
	if _, done := next.snapshot(); len(done) != 1 || done[0] != b {
		t.Errorf("the next member handled %v, want only %s", done, b)
	}
}
