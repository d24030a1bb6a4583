package queue

import (
	"context"
	"errors"
	"maps"
	"time"
)

// WatchFigures hands eventID's figures to send at once, then every
// FiguresInterval, until ctx ends (its error), the service closes
// (ErrShuttingDown), send fails (its error) or the event is gone
// (ErrEventNotFound). After the first, a read the store cannot serve now
// (ErrUnavailable) skips that second: the watch goes on.
func (s *Service) WatchFigures(ctx context.Context, eventID string, send func(Figures) error) error {
	f, err := s.Figures(ctx, eventID)
	if err != nil {
		return err
	}
	if err := send(f); err != nil {
		return err
	}
	t := time.NewTicker(FiguresInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrShuttingDown
		case <-t.C:
		}
		f, err := s.Figures(ctx, eventID)
		switch {
		case errors.Is(err, ErrUnavailable) && ctx.Err() == nil:
			continue
		case err != nil:
			return err
		}
		if err := send(f); err != nil {
			return err
		}
	}
}

// RunStreamReport reports this process's open streams per event to the
// store every StreamReportInterval until ctx ends, then withdraws its
// reports. An event whose streams all closed is withdrawn at the next
// report; a process that stops without withdrawing stops counting
// StreamReportTTL after its last report.
func (s *Service) RunStreamReport(ctx context.Context) error {
	t := time.NewTicker(StreamReportInterval)
	defer t.Stop()
	reported := map[string]int64{}
	var failing bool
	for {
		select {
		case <-ctx.Done():
			if len(reported) > 0 {
				// The process is stopping: a short, separate deadline.
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				_ = s.store.ReportStreams(wctx, s.cfg.Replica, withdrawn(reported, nil), s.now())
				cancel()
			}
			return nil
		case <-t.C:
		}
		counts := s.streams.OpenStreamsByEvent()
		report := withdrawn(reported, counts)
		maps.Copy(report, counts)
		if len(report) == 0 {
			continue
		}
		err := s.store.ReportStreams(ctx, s.cfg.Replica, report, s.now())
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.log.Warn("Cannot report open streams to the store; retrying every second", "error", err)
			failing = true
		case err == nil:
			if failing {
				s.log.Info("Reporting open streams to the store again")
				failing = false
			}
			reported = counts
		}
	}
}

// withdrawn is a report of 0 for every event of prev that now does not
// list.
func withdrawn(prev, now map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for ev := range prev {
		if now[ev] == 0 {
			out[ev] = 0
		}
	}
	return out
}
