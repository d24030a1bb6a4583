package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// perTest gives every subtest its own store, shared by all the handles the
// subtest asks for, as replicas share one Redis.
func perTest(newStore func() *memstore.Store) func(*testing.T) queue.Store {
	var mu sync.Mutex
	stores := map[*testing.T]*memstore.Store{}
	return func(t *testing.T) queue.Store {
		mu.Lock()
		defer mu.Unlock()
		s := stores[t]
		if s == nil {
			s = newStore()
			stores[t] = s
			t.Cleanup(func() {
				mu.Lock()
				delete(stores, t)
				mu.Unlock()
			})
		}
		return s
	}
}

func TestContract(t *testing.T) {
	queuetest.Run(t, perTest(func() *memstore.Store { return memstore.New(memstore.Config{}) }))
}

func TestContractWithOutbox(t *testing.T) {
	withOutbox := func() *memstore.Store { return memstore.New(memstore.Config{Outbox: true}) }
	queuetest.Run(t, perTest(withOutbox))
	queuetest.RunOutbox(t, perTest(withOutbox))
}

// TestContractWithCollidingUsers runs the contract with every user id
// hashing alike, so the live index finds all but one live user through its
// overflow map.
func TestContractWithCollidingUsers(t *testing.T) {
	queuetest.Run(t, perTest(func() *memstore.Store {
		return memstore.NewWithUserHash(memstore.Config{}, func(string) uint64 { return 42 })
	}))
}

func TestOutboxOffRecordsNothing(t *testing.T) {
	s := memstore.New(memstore.Config{})
	ctx := t.Context()
	now := time.Now()
	if _, _, _, err := s.Join(ctx, join("ev", "u", now)); err != nil {
		t.Fatal(err)
	}
	if es, err := s.ClaimOutbox(ctx, "ev", "r", 10, 0); err != nil || len(es) != 0 {
		t.Fatalf("ClaimOutbox without an outbox = %v, %v", es, err)
	}
	if n, _ := s.OutboxLen(ctx, "ev"); n != 0 {
		t.Fatalf("OutboxLen without an outbox = %d", n)
	}
}

func join(ev, user string, now time.Time) queue.JoinParams {
	return queue.JoinParams{
		SessionID: queue.NewSessionID(ev),
		UserID:    user,
		EventID:   ev,
		Now:       now,
		TTL:       time.Hour,
		NewEvent:  queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 10, CheckoutWindow: time.Minute},
	}
}

// TestPurge: ended sessions stay readable for their TTL after they end,
// then Expire forgets them.
func TestPurge(t *testing.T) {
	s := memstore.New(memstore.Config{})
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a, _, _, _ := s.Join(ctx, join("ev", "a", now))
	b, _, _, _ := s.Join(ctx, join("ev", "b", now))
	left := now.Add(10 * time.Minute)
	if _, err := s.Leave(ctx, a.ID, left); err != nil {
		t.Fatal(err)
	}
	// Within the TTL after leaving (b expires meanwhile, at now+1h).
	if _, err := s.Expire(ctx, "ev", left.Add(time.Hour-time.Second), 10); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Session(ctx, a.ID); err != nil || got.Status != queue.StatusLeft {
		t.Fatalf("left session within its TTL: %+v %v", got, err)
	}
	if got, _, err := s.Session(ctx, b.ID); err != nil || got.Status != queue.StatusExpired {
		t.Fatalf("expired session: %+v %v", got, err)
	}
	// Past it: a is forgotten, b (ended later) is not yet.
	if _, err := s.Expire(ctx, "ev", left.Add(time.Hour), 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, a.ID); !errors.Is(err, queue.ErrSessionNotFound) {
		t.Fatalf("left session past its TTL: err = %v, want ErrSessionNotFound", err)
	}
	if _, _, err := s.Session(ctx, b.ID); err != nil {
		t.Fatalf("expired session forgotten early: %v", err)
	}
	// The user may join again and gets a new ticket.
	c, pl, created, err := s.Join(ctx, join("ev", "a", left.Add(time.Hour)))
	if err != nil || !created || c.Ticket != 3 || pl.Position != 1 {
		t.Fatalf("rejoin after purge: %+v %+v %v %v", c, pl, created, err)
	}
}

// TestSubscribeBeforeEvent: a stream may subscribe before anyone joins.
func TestSubscribeBeforeEvent(t *testing.T) {
	s := memstore.New(memstore.Config{})
	h := &countHandler{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Subscribe(ctx, "ev", h) }()
	for h.subscribed.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Join(t.Context(), join("ev", "a", time.Now()))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
	if h.changes.Load() != 1 {
		t.Fatalf("got %d changes, want 1", h.changes.Load())
	}
	// Unsubscribed: later changes go nowhere.
	s.Join(t.Context(), join("ev", "b", time.Now()))
	if h.changes.Load() != 1 {
		t.Fatalf("a change reached a cancelled subscription")
	}
}

type countHandler struct{ subscribed, changes atomic.Int64 }

func (h *countHandler) Subscribed()         { h.subscribed.Add(1) }
func (h *countHandler) Change(queue.Change) { h.changes.Add(1) }

// BenchmarkPlaceOfMillion reads exact places in a queue of 1,000,000.
func BenchmarkPlaceOfMillion(b *testing.B) {
	s := memstore.New(memstore.Config{})
	ctx := b.Context()
	now := time.Now()
	const n = 1_000_000
	ids := make([]string, n)
	for i := range n {
		sess, _, _, err := s.Join(ctx, join("big", fmt.Sprintf("u%d", i), now))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = sess.ID
	}
	// Take some out of the middle so a position is not simply the ticket.
	for i := 0; i < n; i += 10 {
		if _, err := s.Leave(ctx, ids[i], now); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		k := (i*7919)%n | 1 // odd indexes are never the ones that left
		i++
		_, pl, err := s.Session(ctx, ids[k])
		if err != nil {
			b.Fatal(err)
		}
		// Tickets k+1; before it, k sessions joined and k/10+1 of them left.
		if want := int64(k - (k/10 + 1) + 1); pl.Position != want || pl.QueueLength != n-n/10 {
			b.Fatalf("session %d: place %+v, want position %d of %d", k, pl, want, n-n/10)
		}
	}
}

// BenchmarkGCMillionQueued is one full garbage collection with a million
// sessions queued in the store: what every GC cycle of a server holding that
// queue pays. gc-cpu-ms is the collector's CPU time per cycle, B/session the
// heap the store holds per session.
func BenchmarkGCMillionQueued(b *testing.B) {
	const n = 1_000_000
	runtime.GC()
	before := heapInUse()
	s := memstore.New(memstore.Config{})
	now := time.Now()
	for i := range n {
		if _, _, _, err := s.Join(b.Context(), join("big", "u"+strconv.Itoa(i), now)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	perSession := float64(heapInUse()-before) / n
	cpu0 := gcCPUSeconds()
	for b.Loop() {
		runtime.GC()
	}
	b.ReportMetric((gcCPUSeconds()-cpu0)*1000/float64(b.N), "gc-cpu-ms/op")
	b.ReportMetric(perSession, "B/session")
	runtime.KeepAlive(s)
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func gcCPUSeconds() float64 {
	m := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(m)
	return m[0].Value.Float64()
}

// BenchmarkPlacement100k: placing a pre-queue of 100,000.
//
//	go test ./pkg/queue/memstore -run X -bench Placement -benchtime 3x
func BenchmarkPlacement100k(b *testing.B) {
	queuetest.BenchmarkPlacement(b, memstore.New(memstore.Config{}), 100_000)
}
