package queue

import (
	"context"
	"time"
)

// RunProcessor admits and expires sessions every ProcessInterval until ctx
// ends. Any number of replicas may run it at once: the store's atomic steps
// keep capacity and single admission.
func (s *Service) RunProcessor(ctx context.Context) error {
	s.log.Info("Started queue processor", "interval", s.cfg.ProcessInterval)
	t := time.NewTicker(s.cfg.ProcessInterval)
	defer t.Stop()
	var failing bool
	for {
		select {
		case <-ctx.Done():
			s.log.Info("Stopped queue processor")
			return nil
		case <-t.C:
		}
		err := s.ProcessOnce(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.Warn("Queue processor cannot reach the store; retrying every tick", "error", err)
			failing = true
		case err == nil && failing:
			s.log.Info("Queue processor reaches the store again")
			failing = false
		}
	}
}

// ProcessOnce runs one processor pass over every event: expiries first, so
// their freed slots are filled in the same pass, then admissions for active
// events. It returns the first store error; other events are still processed.
func (s *Service) ProcessOnce(ctx context.Context) error {
	events, err := s.store.Events(ctx)
	if err != nil {
		return err
	}
	var first error
	for _, e := range events {
		if err := s.processEvent(ctx, e); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Service) processEvent(ctx context.Context, e Event) error {
	batch := s.cfg.AdmitBatch
	for {
		expired, err := s.store.Expire(ctx, e.ID, s.now(), batch)
		if err != nil {
			return err
		}
		if len(expired) > 0 {
			s.published(e.ID, ChangeExpired)
			s.log.Info("Expired sessions", "event_id", e.ID, "count", len(expired))
		}
		if len(expired) < batch {
			break
		}
	}
	if e.State != EventActive {
		return nil
	}
	for {
		admitted, err := s.store.Admit(ctx, e.ID, s.now(), batch)
		if err != nil {
			return err
		}
		if len(admitted) > 0 {
			s.published(e.ID, ChangeAdmitted)
			s.log.Info("Admitted users from queue", "event_id", e.ID, "count", len(admitted))
		}
		if len(admitted) < batch {
			return nil
		}
	}
}
