package server

import (
	"context"
	"fmt"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// openStore returns the Redis store when RedisAddrs is set, else the
// embedded one. Either keeps an outbox of changes when Kafka is on.
func (s *Server) openStore(ctx context.Context) (queue.Store, error) {
	if len(s.cfg.RedisAddrs) == 0 {
		return memstore.New(memstore.Config{Outbox: s.cfg.KafkaEnabled()}), nil
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := redisstore.Dial(dctx, s.cfg.RedisAddrs, redisstore.Config{
		Outbox: s.cfg.KafkaEnabled(),
		Logger: s.log.With("component", "redis"),
	})
	if err != nil {
		return nil, fmt.Errorf("REDIS_ADDR=%v: %w", s.cfg.RedisAddrs, err)
	}
	s.closers = append(s.closers, st.Close)
	return st, nil
}

func (s *Server) storeName() string {
	if len(s.cfg.RedisAddrs) > 0 {
		return "redis"
	}
	return "memory"
}
