package diskstore

import (
	"context"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// Figures implements queue.StatsStore. The figures are the memory store's,
// counted with each logged change, so replaying the log counts them again.
func (s *Store) Figures(ctx context.Context, eventID string) (r queue.FigureRecord, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		r, err = m.Figures(ctx, eventID)
		return nil
	})
	if cerr != nil {
		return queue.FigureRecord{}, cerr
	}
	return r, err
}

// ReportStreams implements queue.StatsStore. Reports are not logged: they
// belong to the running process.
func (s *Store) ReportStreams(ctx context.Context, replica string, counts map[string]int64, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refusal(); err != nil {
		return err
	}
	return s.mem.ReportStreams(ctx, replica, counts, now)
}
