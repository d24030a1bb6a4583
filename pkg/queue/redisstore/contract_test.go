package redisstore_test

import (
	"testing"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// The contract suite against one redis-server: every handle is its own
// client, like replicas sharing one Redis.
func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	addrs := []string{srv.Addr()}
	t.Run("Store", func(t *testing.T) {
		queuetest.Run(t, func(t *testing.T) queue.Store { return dial(t, addrs) })
	})
	t.Run("Outbox", func(t *testing.T) {
		queuetest.RunOutbox(t, func(t *testing.T) queue.Store { return dialWith(t, addrs, redisstore.Config{Outbox: true}) })
	})
	t.Run("StoreWithoutCache", func(t *testing.T) {
		queuetest.Run(t, func(t *testing.T) queue.Store { return dialWith(t, addrs, redisstore.Config{EventCacheTTL: -1}) })
	})
}

// The contract suite against a 3-master Redis Cluster: the events' keys
// spread over the nodes, and changes are published on one node and received
// on another.
func TestContractCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl := redistest.StartCluster(t, 3)
	addrs := cl.Addrs()
	t.Run("Store", func(t *testing.T) {
		queuetest.Run(t, func(t *testing.T) queue.Store { return dial(t, addrs) })
	})
	t.Run("Outbox", func(t *testing.T) {
		queuetest.RunOutbox(t, func(t *testing.T) queue.Store { return dialWith(t, addrs, redisstore.Config{Outbox: true}) })
	})
}
