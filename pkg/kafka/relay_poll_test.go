package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
)

// countingStore has events with empty outboxes, or failing ones, and counts
// the claims made on it.
type countingStore struct {
	events []queue.Event
	fail   bool

	mu     sync.Mutex
	claims map[string]int
}

func newCountingStore(n int, fail bool) *countingStore {
	s := &countingStore{fail: fail, claims: map[string]int{}}
	for i := range n {
		s.events = append(s.events, queue.Event{ID: fmt.Sprintf("ev%03d", i)})
	}
	return s
}

func (s *countingStore) LiveEvents(context.Context) ([]queue.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events, nil
}

func (s *countingStore) ClaimOutbox(_ context.Context, eventID, _ string, _ int, _ time.Duration) ([]queue.OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims[eventID]++
	if s.fail {
		return nil, fmt.Errorf("%w: connection refused", queue.ErrUnavailable)
	}
	return nil, nil
}

func (s *countingStore) AckOutbox(context.Context, string, []string) error { return nil }

func (s *countingStore) OutboxLen(context.Context, string) (int64, error) {
	if s.fail {
		return 0, queue.ErrUnavailable
	}
	return 0, nil
}

func (s *countingStore) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.claims))
	for id, n := range s.claims {
		m[id] = n
	}
	return m
}

func (s *countingStore) counts() (minN, maxN int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	minN = 1 << 30
	for _, e := range s.events {
		minN, maxN = min(minN, s.claims[e.ID]), max(maxN, s.claims[e.ID])
	}
	return minN, maxN
}

// runFor runs a relay (with the default timings) over store for d of the
// bubble's fake time. An idle relay never touches its Kafka client.
func runFor(t *testing.T, store kafka.RelayStore, d time.Duration, during func(*kafka.Relay)) {
	r := kafka.NewRelay(store, nil, kafka.RelayConfig{Claimant: "c", Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	if during != nil {
		during(r)
	}
	time.Sleep(d)
	cancel()
	<-done
}

// An idle system costs one claim per event per PollMax once the poll has
// backed off, however many events there are.
func TestRelayIdlePollingBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCountingStore(200, false)
		runFor(t, store, 2*time.Minute, nil)
		// 50ms, 100ms, … 25.6s (51s in all), then every 30s: about 14
		// claims in two minutes.
		lo, hi := store.counts()
		t.Logf("idle: %d..%d claims per event", lo, hi)
		if lo < 11 || hi > 16 {
			t.Errorf("claims per event in two minutes: %d to %d, want 11 to 16", lo, hi)
		}
	})
}

// Wake polls at once rather than at the idle interval.
func TestRelayWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCountingStore(3, false)
		runFor(t, store, 0, func(r *kafka.Relay) {
			time.Sleep(time.Minute) // fully backed off
			synctest.Wait()
			before, _ := store.counts()
			r.Wake()
			synctest.Wait()
			if after, _ := store.counts(); after != before+1 {
				t.Errorf("claims went from %d to %d on Wake, want one more", before, after)
			}
		})
	})
}

// A store that keeps failing is retried with a growing backoff, not in a
// loop, and the failures show in Stats.
func TestRelayStoreOutageBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCountingStore(5, true)
		var stats kafka.RelayStats
		runFor(t, store, 0, func(r *kafka.Relay) {
			time.Sleep(time.Minute)
			synctest.Wait()
			stats = r.Stats()
		})
		// 250ms, 500ms, … 8s, then every 10s: about 11 claims a minute.
		lo, hi := store.counts()
		t.Logf("outage: %d..%d claims per event; %+v", lo, hi, stats)
		if lo < 8 || hi > 15 {
			t.Errorf("claims per event in a minute of outage: %d to %d, want 8 to 15", lo, hi)
		}
		if stats.Failures == 0 || stats.LastError == "" {
			t.Errorf("outage not in stats: %+v", stats)
		}
	})
}

// WakeEvent polls that event at once, and only that one: with thousands of
// events, each change must not cost a claim on every event. An event the
// relay has not listed yet is polled at once too.
func TestRelayWakeEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCountingStore(200, false)
		runFor(t, store, 0, func(r *kafka.Relay) {
			time.Sleep(2 * time.Minute) // fully backed off
			synctest.Wait()
			before := store.snapshot()
			r.WakeEvent("ev007")
			r.WakeEvent("brand-new")
			synctest.Wait()
			after := store.snapshot()
			for id, n := range after {
				want := before[id]
				if id == "ev007" || id == "brand-new" {
					want++
				}
				if n != want {
					t.Errorf("%s: %d claims after the wake, was %d", id, n, before[id])
				}
			}
			if after["brand-new"] != 1 {
				t.Errorf("an unlisted event woken: %d claims, want 1", after["brand-new"])
			}
		})
	})
}

// An event no longer live is polled no more once the list is re-read: an
// idle relay's cost follows the live events, not every event ever seen.
func TestRelayStopsPollingIdleEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newCountingStore(200, false)
		runFor(t, store, 0, func(r *kafka.Relay) {
			time.Sleep(time.Minute)
			store.mu.Lock()
			store.events = store.events[:1]
			store.mu.Unlock()
			time.Sleep(10 * time.Second) // the list is re-read every 5s
			synctest.Wait()
			before := store.snapshot()
			time.Sleep(5 * time.Minute)
			synctest.Wait()
			after := store.snapshot()
			for id, n := range after {
				if id != "ev000" && n != before[id] {
					t.Errorf("%s, no longer live: %d claims after, was %d", id, n, before[id])
				}
			}
			if after["ev000"] <= before["ev000"] {
				t.Errorf("the live event was polled %d times in 5 minutes", after["ev000"]-before["ev000"])
			}
		})
	})
}
