package memstore

import (
	"context"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
)

// This file keeps the events' live figures (queue.StatsStore): counted in
// announce, under the lock, with the change that causes them, so they are
// dumped and replayed with the rest of the state. Stream reports belong to
// the running processes, like subscriptions: they are neither dumped nor
// replayed.

// figures are what an event keeps for its live figures.
type figures struct {
	totals queue.Totals
	since  int64 // the first join, Unix ns, or unset
	admits queue.AdmitRing
	// waits is a ring of the recent admissions' waits (ns): full once it
	// holds MaxWaitSamples, next is the oldest then.
	waits []int64
	next  int
}

func newFigures() figures { return figures{since: unset} }

// tally counts a change in e's figures (queue.StatsStore's rule).
func (e *event) tally(c queue.Change) {
	f := &e.fig
	var admitted int64
	at := unixNano(c.At)
	for _, cs := range c.Sessions {
		if cs.Status == queue.StatusQueued && c.Kind != queue.ChangeJoined {
			continue // a session that stays queued is no join
		}
		f.totals.Count(cs.Status, 1)
		if cs.Status != queue.StatusReady {
			continue
		}
		admitted++
		if key, ok := keyOf(e.cfg.ID, cs.ID); ok {
			if h, ok := e.byKey[key]; ok {
				f.addWait(at - e.recs.at(h).joinedAt)
			}
		}
	}
	if c.Kind == queue.ChangeJoined && f.since == unset {
		f.since = at
	}
	if admitted > 0 {
		f.admits.Add(c.At, admitted)
	}
}

func (f *figures) addWait(ns int64) {
	if len(f.waits) < queue.MaxWaitSamples {
		f.waits = append(f.waits, ns)
		return
	}
	f.waits[f.next] = ns
	f.next = (f.next + 1) % len(f.waits)
}

// Figures implements queue.StatsStore.
func (s *Store) Figures(ctx context.Context, eventID string) (queue.FigureRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil || e.deleted {
		return queue.FigureRecord{}, queue.ErrEventNotFound
	}
	f := &e.fig
	r := queue.FigureRecord{
		Event:  e.cfg,
		Stats:  queue.EventStats{QueueLength: e.waiting.Len(), Processing: e.processing, Seq: e.seq},
		Totals: f.totals,
		Since:  timeOf(f.since),
		Admits: f.admits,
		Waits:  make([]time.Duration, len(f.waits)),
	}
	for i, w := range f.waits {
		r.Waits[i] = time.Duration(w)
	}
	for _, rep := range s.reports[eventID] {
		r.Streams = append(r.Streams, rep)
	}
	return r, nil
}

// ReportStreams implements queue.StatsStore. It also drops the reports
// that have outlived StreamReportTTL at now.
func (s *Store) ReportStreams(ctx context.Context, replica string, counts map[string]int64, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ev, n := range counts {
		m := s.reports[ev]
		switch {
		case n > 0 && m == nil:
			m = map[string]queue.StreamReport{}
			s.reports[ev] = m
			fallthrough
		case n > 0:
			m[replica] = queue.StreamReport{Replica: replica, Count: n, At: now}
		default:
			delete(m, replica)
		}
	}
	for ev, m := range s.reports {
		for id, rep := range m {
			if now.Sub(rep.At) >= queue.StreamReportTTL {
				delete(m, id)
			}
		}
		if len(m) == 0 {
			delete(s.reports, ev)
		}
	}
	return nil
}

func (f *figures) dump(w *binenc.Writer) {
	for _, n := range []int64{f.totals.Joined, f.totals.Admitted, f.totals.Completed, f.totals.Expired, f.totals.Left} {
		w.Varint(n)
	}
	w.Varint(f.since)
	n := 0
	for _, sl := range f.admits {
		if sl != (queue.AdmitSlot{}) {
			n++
		}
	}
	w.Uvarint(uint64(n))
	for i, sl := range f.admits {
		if sl != (queue.AdmitSlot{}) {
			w.Uvarint(uint64(i))
			w.Varint(sl.Sec)
			w.Varint(sl.N)
		}
	}
	w.Uvarint(uint64(len(f.waits)))
	w.Uvarint(uint64(f.next))
	for _, x := range f.waits {
		w.Varint(x)
	}
}

func (f *figures) restore(r *binenc.Reader) error {
	for _, n := range []*int64{&f.totals.Joined, &f.totals.Admitted, &f.totals.Completed, &f.totals.Expired, &f.totals.Left} {
		*n = r.Varint()
	}
	f.since = r.Varint()
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- {
		i := r.Uvarint()
		sl := queue.AdmitSlot{Sec: r.Varint(), N: r.Varint()}
		if i >= queue.RateWindow {
			return binenc.ErrCorrupt
		}
		f.admits[i] = sl
	}
	n, next := r.Uvarint(), r.Uvarint()
	if n > queue.MaxWaitSamples || next >= max(n, 1) {
		return binenc.ErrCorrupt
	}
	f.waits, f.next = make([]int64, 0, n), int(next)
	for ; n > 0 && r.Err() == nil; n-- {
		f.waits = append(f.waits, r.Varint())
	}
	return r.Err()
}
