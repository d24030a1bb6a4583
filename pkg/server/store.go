package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/internal/telemetry"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// openStore returns the Redis store when RedisAddrs is set, else the
// embedded one Store names. Each keeps an outbox of changes when Kafka is
// on.
func (s *Server) openStore(ctx context.Context) (queue.Store, error) {
	if len(s.cfg.RedisAddrs) > 0 {
		return s.openRedis(ctx)
	}
	if s.cfg.Store == StoreMemory {
		s.log.Warn("WAITROOM_STORE=memory: the waiting room is kept in memory only; " +
			"every session, event setting and unsent Kafka event is lost when the process stops")
		return memstore.New(memstore.Config{Outbox: s.cfg.KafkaEnabled()}), nil
	}
	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("WAITROOM_DATA_DIR=%q: %w", s.cfg.DataDir, err)
	}
	st, err := diskstore.Open(diskstore.Config{
		Dir:    dir,
		Outbox: s.cfg.KafkaEnabled(),
		Logger: s.log.With("component", "store"),
	})
	if err != nil {
		return nil, fmt.Errorf("WAITROOM_DATA_DIR=%q: %w", s.cfg.DataDir, err)
	}
	s.log.Info("Data directory", "dir", dir)
	s.closers = append(s.closers, func() {
		if err := st.Close(); err != nil {
			s.log.Error("Closing the embedded store", "error", err)
		}
	})
	return st, nil
}

func (s *Server) openRedis(ctx context.Context) (queue.Store, error) {
	dctx, cancel := context.WithTimeout(ctx, max(5*time.Second, s.cfg.RedisTimeout))
	defer cancel()
	rcfg := redisstore.Config{
		Outbox:  s.cfg.KafkaEnabled(),
		Logger:  s.log.With("component", "redis"),
		Timeout: s.cfg.RedisTimeout,
	}
	if s.domain == nil {
		st, err := redisstore.Dial(dctx, s.cfg.RedisAddrs, rcfg)
		if err != nil {
			return nil, fmt.Errorf("REDIS_ADDR=%v: %w", s.cfg.RedisAddrs, err)
		}
		s.closers = append(s.closers, st.Close)
		return st, nil
	}
	// As Dial, with the client's commands counted.
	c, err := rueidis.NewClient(redisstore.ClientOption(s.cfg.RedisAddrs, s.cfg.RedisTimeout))
	if err != nil {
		return nil, fmt.Errorf("REDIS_ADDR=%v: %w: %v", s.cfg.RedisAddrs, queue.ErrUnavailable, err)
	}
	s.closers = append(s.closers, c.Close)
	counted, err := telemetry.WrapRedis(c, s.tel.Meters)
	if err != nil {
		return nil, err
	}
	st := redisstore.New(counted, rcfg)
	s.closers = append(s.closers, st.Close)
	if err := st.Ping(dctx); err != nil {
		return nil, fmt.Errorf("REDIS_ADDR=%v: %w", s.cfg.RedisAddrs, err)
	}
	return st, nil
}

func (s *Server) storeName() string {
	if len(s.cfg.RedisAddrs) > 0 {
		return "redis"
	}
	return s.cfg.Store
}
