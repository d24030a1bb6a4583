package server

import (
	"context"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// openStore returns the Redis store when REDIS_ADDR is set, else the
// embedded one.
func (s *Server) openStore(ctx context.Context) (queue.Store, error) {
	var opts []memstore.Option
	if s.cfg.KafkaEnabled {
		opts = append(opts, memstore.WithOutbox())
	}
	return memstore.New(opts...), nil
}

func (s *Server) storeName() string {
	if len(s.cfg.RedisAddrs) > 0 {
		return "redis"
	}
	return "memory"
}
