package fanout

import (
	"context"
	"runtime"
	"sync"
	"testing"
)

// TestTerminalStateSentFirst queues a terminal state behind 10,000 position
// updates waiting for a send slot: the first slot freed goes to it.
func TestTerminalStateSentFirst(t *testing.T) {
	q := newSendQueue(1)
	ctx := context.Background()
	if err := q.acquire(ctx, prioCadenced); err != nil { // the one slot, busy
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []priority
	var wg sync.WaitGroup
	send := func(p priority) {
		wg.Go(func() {
			if err := q.acquire(ctx, p); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
			q.release()
		})
	}
	waitFor := func(n int) {
		for q.stats().Waiting < n {
			runtimeYield()
		}
	}
	for range 10_000 {
		send(prioCadenced)
	}
	waitFor(10_000)
	send(prioRealtime)
	waitFor(10_001)
	send(prioFinal)
	waitFor(10_002)
	q.release()
	wg.Wait()
	if len(order) != 10_002 || order[0] != prioFinal || order[1] != prioRealtime {
		t.Fatalf("sent %d, first %v", len(order), order[:min(3, len(order))])
	}
	st := q.stats()
	if st.InFlight != 0 || st.Waiting != 0 || st.Sent[prioFinal] != 1 || st.Sent[prioCadenced] != 10_001 {
		t.Fatalf("stats after: %+v", st)
	}
}

// TestSendSlotGivenUp checks that a waiter whose context ends leaves the
// queue without taking a slot for good.
func TestSendSlotGivenUp(t *testing.T) {
	q := newSendQueue(1)
	if err := q.acquire(context.Background(), prioFinal); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.acquire(ctx, prioFinal) }()
	for q.stats().Waiting == 0 {
		runtimeYield()
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("acquire succeeded after its context ended")
	}
	q.release()
	if err := q.acquire(context.Background(), prioCadenced); err != nil {
		t.Fatal(err)
	}
	if st := q.stats(); st.InFlight != 1 {
		t.Fatalf("in flight %d, want 1", st.InFlight)
	}
}

func runtimeYield() { runtime.Gosched() }
