package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// watchHealth reports NOT_SERVING while the store cannot be reached. A ping
// that times out leaves the status as it was: a store too busy to answer
// within its timeout is slow, not down, and taking the replica out of a load
// balancer for it would only move its load onto the others. A store that
// stays silent is given up on by its client, and then fails as unreachable.
func (s *Server) watchHealth(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	serving, slow := true, false
	for {
		// The store's own deadline ends a slow ping first, as ErrTimeout.
		pctx, cancel := context.WithTimeout(ctx, s.storeTimeout()+time.Second)
		err := s.store.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		timedOut := errors.Is(err, queue.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
		if timedOut != slow {
			slow = timedOut
			if slow {
				s.log.Warn("Store slow: a health ping timed out; health unchanged", "error", err)
			}
		}
		switch {
		case timedOut:
		case err != nil && serving:
			s.log.Warn("Store unreachable; reporting NOT_SERVING", "error", err)
			serving = false
		case err == nil && !serving:
			s.log.Info("Store reachable again; reporting SERVING")
			serving = true
		}
		st := grpchealth.StatusServing
		if !serving {
			st = grpchealth.StatusNotServing
		}
		s.setHealth(st, false)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setHealth reports st for every service; once stop is set, nothing changes
// it back from NOT_SERVING.
func (s *Server) setHealth(st grpchealth.Status, stop bool) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if s.stopping {
		return
	}
	s.stopping = stop
	for _, name := range append([]string{""}, serviceNames...) {
		s.health.SetStatus(name, st)
	}
}

// healthz answers load balancers that speak plain HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	res, _ := s.health.Check(r.Context(), &grpchealth.CheckRequest{})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if res == nil || res.Status != grpchealth.StatusServing {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not serving\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// storeTimeout is the store's per-call deadline.
func (s *Server) storeTimeout() time.Duration {
	if s.cfg.RedisTimeout > 0 {
		return s.cfg.RedisTimeout
	}
	return redisstore.DefaultTimeout
}
