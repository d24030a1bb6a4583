package server

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"
)

// watchHealth reports NOT_SERVING while the store cannot be reached.
func (s *Server) watchHealth(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	serving := true
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.store.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
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
