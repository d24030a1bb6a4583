package queue

import (
	"context"
	"sync"
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

// processParallel is how many events one pass works on at once. A pass
// visits only live events, but an on-sale day may have hundreds of them; one
// at a time on Redis (two round trips each) they would stretch a pass past
// ProcessInterval. Events are independent, and each is still processed in
// order on its own.
const processParallel = 16

// forgetPerPass bounds how many idle events one pass forgets, so that a
// flood of made-up event ids going idle at once is forgotten over several
// passes rather than holding one up.
const forgetPerPass = 256

// ProcessOnce runs one processor pass over the live events (those with
// live sessions or outbox entries; an idle event costs a pass nothing):
// expiries first, so their freed slots are filled in the same pass, then
// admissions for active events. Then it forgets events idle for
// EventIdleTTL. It returns the first store error; other events are still
// processed.
func (s *Service) ProcessOnce(ctx context.Context) error {
	events, err := s.store.LiveEvents(ctx)
	if err != nil {
		s.storeFailed(err)
		return err
	}
	first := s.processEvents(ctx, events)
	s.observeFigures(ctx, events)
	if n, err := s.store.ForgetIdle(ctx, s.now(), s.cfg.EventIdleTTL, forgetPerPass); err != nil {
		if first == nil {
			first = err
		}
	} else if n > 0 {
		s.log.Info("Forgot idle events", "count", n, "idle_for", s.cfg.EventIdleTTL)
	}
	s.storeFailed(first)
	return first
}

// storeFailed tells the Observer of a failing pass.
func (s *Service) storeFailed(err error) {
	if err != nil && s.cfg.Observer != nil {
		s.cfg.Observer.StoreFailed(err)
	}
}

// observeFigures reads the live events' counts for the Observer, at most
// once per FiguresEvery: one store read per live event, and nothing at all
// without an Observer. An event whose read fails is left out this time.
func (s *Service) observeFigures(ctx context.Context, events []Event) {
	if s.cfg.Observer == nil {
		return
	}
	now := s.now()
	last := s.figuresAt.Load()
	if now.UnixNano()-last < int64(FiguresEvery) || !s.figuresAt.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	figures := make([]EventFigures, 0, len(events))
	for _, e := range events {
		_, st, err := s.store.Event(ctx, e.ID)
		if err != nil {
			continue
		}
		figures = append(figures, EventFigures{EventID: e.ID, State: e.State, QueueLength: st.QueueLength, InCheckout: st.Processing})
	}
	s.cfg.Observer.LiveEvents(now, figures)
}

// processEvents processes events, processParallel at a time, and returns
// the first error.
func (s *Service) processEvents(ctx context.Context, events []Event) error {
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for range min(processParallel, len(events)) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(events) {
					return
				}
				if err := s.processEvent(ctx, events[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
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
			s.published(e.ID, ChangeExpired, len(expired))
			s.log.Info("Expired sessions", "event_id", e.ID, "count", len(expired))
		}
		if len(expired) < batch {
			break
		}
	}
	if err := s.placeDue(ctx, e); err != nil {
		return err
	}
	if e.State != EventActive {
		return nil
	}
	// One call first: most ticks admit a few sessions or none, and then cost
	// the store one call. Only a full batch says a crowd waits.
	for width := 1; ; width = admitPipeline {
		full, err := s.admitRound(ctx, e.ID, batch, width)
		if err != nil || !full {
			return err
		}
	}
}

// admitPipeline is how many admission batches go to the store at once. Each
// store call admits at most one batch and checks capacity atomically, so
// calls beyond the free slots admit nobody, and the store serves them in the
// order they were sent, so admission stays first come, first served. On
// Redis the calls share one round trip (the client pipelines concurrent
// calls): with one call at a time, every batch also waited for the processor
// to be scheduled again behind thousands of stream goroutines, and freeing
// 20,000 slots took 20 such waits.
const admitPipeline = 8

// admitRound makes width admission calls at once; full reports that every
// call admitted a whole batch, so there may be more to admit.
func (s *Service) admitRound(ctx context.Context, eventID string, batch, width int) (full bool, err error) {
	type result struct {
		n   int
		err error
	}
	results := make([]result, width)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			admitted, err := s.admit(ctx, eventID, batch)
			results[i] = result{len(admitted), err}
		})
	}
	wg.Wait()
	total := 0
	full = true
	for _, r := range results {
		if err == nil {
			err = r.err
		}
		total += r.n
		full = full && r.err == nil && r.n == batch
	}
	if total > 0 {
		s.published(eventID, ChangeAdmitted, total)
		s.log.Info("Admitted users from queue", "event_id", eventID, "count", total)
	}
	return full, err
}
