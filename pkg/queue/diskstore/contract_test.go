package diskstore_test

import (
	"sync"
	"testing"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// perTest gives every subtest its own store in its own directory, shared by
// all the handles the subtest asks for.
func perTest(cfg diskstore.Config) func(*testing.T) queue.Store {
	var mu sync.Mutex
	stores := map[*testing.T]*diskstore.Store{}
	return func(t *testing.T) queue.Store {
		mu.Lock()
		defer mu.Unlock()
		if s := stores[t]; s != nil {
			return s
		}
		c := cfg
		c.Dir = t.TempDir()
		s := MustOpen(t, c)
		stores[t] = s
		t.Cleanup(func() {
			mu.Lock()
			delete(stores, t)
			mu.Unlock()
		})
		return s
	}
}

// MustOpen opens a store and closes it when the test ends.
func MustOpen(tb testing.TB, cfg diskstore.Config) *diskstore.Store {
	tb.Helper()
	s, err := diskstore.Open(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	queuetest.Run(t, perTest(diskstore.Config{}))
}

func TestContractWithOutbox(t *testing.T) {
	queuetest.Run(t, perTest(diskstore.Config{Outbox: true}))
	queuetest.RunOutbox(t, perTest(diskstore.Config{Outbox: true}))
}

// TestContractSnapshotting runs the contract with a snapshot after every
// few records, so that snapshots are taken while calls go on.
func TestContractSnapshotting(t *testing.T) {
	queuetest.Run(t, perTest(diskstore.Config{Outbox: true, SnapshotBytes: 2048}))
}
