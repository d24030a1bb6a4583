package fanout

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestTerminalStateSentFirst queues a terminal state behind 10,000 position
// updates waiting for a send slot: the first slot freed goes to it. (In a
// bubble, so that no stall is seen while they queue.)
func TestTerminalStateSentFirst(t *testing.T) { synctest.Test(t, terminalStateSentFirst) }

func terminalStateSentFirst(t *testing.T) {
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
	for range 10_000 {
		send(prioCadenced)
	}
	synctest.Wait()
	send(prioRealtime)
	synctest.Wait()
	send(prioFinal)
	synctest.Wait()
	if n := q.stats().Waiting; n != 10_002 {
		t.Fatalf("%d waiting, want 10,002", n)
	}
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
func TestSendSlotGivenUp(t *testing.T) { synctest.Test(t, sendSlotGivenUp) }

func sendSlotGivenUp(t *testing.T) {
	q := newSendQueue(1)
	if err := q.acquire(context.Background(), prioFinal); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.acquire(ctx, prioFinal) }()
	synctest.Wait()
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

// TestSendStallLetsWaitersThrough: slots held and never given back (clients
// that never read) hold the waiters up for sendStall, not for good.
func TestSendStallLetsWaitersThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newSendQueue(1)
		ctx := context.Background()
		if err := q.acquire(ctx, prioCadenced); err != nil { // stuck for good
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			if err := q.acquire(ctx, prioFinal); err != nil {
				t.Error(err)
			}
			close(done)
		}()
		synctest.Wait()
		start := time.Now()
		<-done
		if waited := time.Since(start); waited > 2*sendStall {
			t.Errorf("waited %v", waited)
		}
		if st := q.stats(); st.Stalls != 1 || st.InFlight != 2 {
			t.Errorf("stats %+v", st)
		}
		q.release()
		q.release()
		if st := q.stats(); st.InFlight != 0 {
			t.Errorf("in flight %d after both released", st.InFlight)
		}
		synctest.Wait() // the guard stops once nobody waits
	})
}
