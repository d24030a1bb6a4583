package kafka_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// world drives a real store the way the service does and remembers every
// change the store announced, to compare with what reaches Kafka.
type world struct {
	t     testing.TB
	store queue.Store
	ttl   time.Duration

	mu      sync.Mutex
	changes map[string]queue.Change // by record id
}

func newMemWorld(t testing.TB) (*world, *memstore.Store) {
	s := memstore.New(memstore.Config{Outbox: true})
	return newWorld(t, s), s
}

func newWorld(t testing.TB, s queue.Store) *world {
	return &world{t: t, store: s, ttl: time.Hour, changes: map[string]queue.Change{}}
}

// event creates an active event and starts recording its changes.
func (w *world) event(id string, maxConcurrent int64) {
	w.t.Helper()
	if _, err := w.store.PutEvent(context.Background(), queue.Event{
		ID: id, State: queue.EventActive, MaxConcurrent: maxConcurrent, CheckoutWindow: time.Minute,
	}); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	subscribed := make(chan struct{})
	rec := &recorder{w: w, subscribed: subscribed}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.store.Subscribe(ctx, id, rec)
	}()
	w.t.Cleanup(func() {
		cancel()
		<-done
	})
	<-subscribed
}

type recorder struct {
	w          *world
	subscribed chan struct{}
	once       sync.Once
}

func (r *recorder) Subscribed() { r.once.Do(func() { close(r.subscribed) }) }

func (r *recorder) Change(c queue.Change) {
	r.w.mu.Lock()
	r.w.changes[wire.QueueEventID(c.EventID, c.Seq)] = c
	r.w.mu.Unlock()
}

func (w *world) join(eventID, user string) queue.Session {
	w.t.Helper()
	s, _, _, err := w.store.Join(context.Background(), queue.JoinParams{
		SessionID: queue.NewSessionID(eventID), UserID: user, EventID: eventID,
		Now: time.Now(), TTL: w.ttl,
		NewEvent: queue.Event{State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute},
	})
	if err != nil {
		w.t.Fatalf("join %s: %v", user, err)
	}
	return s
}

func (w *world) leave(id string) {
	w.t.Helper()
	if _, err := w.store.Leave(context.Background(), id, time.Now()); err != nil {
		w.t.Fatalf("leave: %v", err)
	}
}

func (w *world) admit(eventID string) []queue.Session {
	w.t.Helper()
	ss, err := w.store.Admit(context.Background(), eventID, time.Now(), 100)
	if err != nil {
		w.t.Fatalf("admit: %v", err)
	}
	return ss
}

func (w *world) complete(id string) {
	w.t.Helper()
	if _, err := w.store.Complete(context.Background(), id, time.Now()); err != nil {
		w.t.Fatalf("complete: %v", err)
	}
}

func (w *world) expire(eventID string, at time.Time) []queue.Session {
	w.t.Helper()
	ss, err := w.store.Expire(context.Background(), eventID, at, 100)
	if err != nil {
		w.t.Fatalf("expire: %v", err)
	}
	return ss
}

// ids returns the record ids of every change recorded so far.
func (w *world) ids() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.changes))
	for id := range w.changes {
		out = append(out, id)
	}
	return out
}

func (w *world) change(id string) (queue.Change, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.changes[id]
	return c, ok
}

// storeIDs lists "<event>:<seq>" for every change the store has numbered,
// independently of the recorder.
func storeIDs(t testing.TB, s queue.Store) []string {
	t.Helper()
	evs, err := s.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range evs {
		_, st, err := s.Event(context.Background(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= st.Seq; seq++ {
			ids = append(ids, wire.QueueEventID(e.ID, seq))
		}
	}
	return ids
}
