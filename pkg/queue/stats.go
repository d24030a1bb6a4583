package queue

import (
	"context"
	"math"
	"slices"
	"time"
)

// This file holds an event's live figures (what WatchEvent shows): what the
// stores keep for them, and the rules that turn that into figures.

// StatsStore is the part of a Store that keeps an event's live figures.
// Every change also counts, in the same atomic step, in its event's Totals
// (by the sessions' new status: joined, admitted, completed, expired,
// left); an admission also counts in the event's AdmitRing at its time and
// adds each admitted session's wait (admission time − join time) to the
// event's recent waits. A forgotten or deleted event's figures go with it.
type StatsStore interface {
	// Figures reads, atomically, what an event's live figures are made of;
	// ErrEventNotFound for an unknown event.
	Figures(ctx context.Context, eventID string) (FigureRecord, error)
	// ReportStreams records that replica has counts[e] position streams of
	// event e open at now; a count of 0 withdraws the replica's report for
	// e. Reports are not changes: they announce nothing and are not kept
	// across restarts. A report is read back by Figures for at least
	// StreamReportTTL after at; an event unknown to the store may be
	// reported (its figures show it once it is known).
	ReportStreams(ctx context.Context, replica string, counts map[string]int64, now time.Time) error
}

// Bounds of the figures.
const (
	// MaxWaitSamples is how many recent admissions' waits an event keeps.
	MaxWaitSamples = 1000
	// RateWindow is how many whole seconds the admission rate is taken over.
	RateWindow = 60
	// StreamReportTTL is how long a replica's report of its open streams
	// counts: a replica reports every StreamReportInterval, so one silent
	// for this long has stopped.
	StreamReportTTL = 5 * time.Second
	// StreamReportInterval is how often a replica reports its streams.
	StreamReportInterval = time.Second
	// FiguresInterval is how often WatchEvent sends the figures.
	FiguresInterval = time.Second
)

// Totals count an event's changes since its first join.
type Totals struct {
	Joined, Admitted, Completed, Expired, Left int64
}

// Count adds n sessions that a change left with status st.
func (t *Totals) Count(st Status, n int64) {
	switch st {
	case StatusQueued:
		t.Joined += n
	case StatusReady:
		t.Admitted += n
	case StatusCompleted:
		t.Completed += n
	case StatusExpired:
		t.Expired += n
	case StatusLeft:
		t.Left += n
	}
}

// AdmitSlot counts the admissions of one second of Unix time.
type AdmitSlot struct {
	Sec int64
	N   int64
}

// AdmitRing counts admissions per second over the last RateWindow seconds:
// slot Sec % RateWindow holds second Sec. Redis's scripts repeat Add.
type AdmitRing [RateWindow]AdmitSlot

// Add counts n admissions at t. A slot holding an older second starts
// again; one holding the same or (a replica's clock behind) a newer second
// adds to it.
func (r *AdmitRing) Add(t time.Time, n int64) {
	sec := t.Unix()
	s := &r[sec%RateWindow]
	if sec > s.Sec {
		*s = AdmitSlot{Sec: sec, N: n}
		return
	}
	s.N += n
}

// InWindow is how many admissions the ring holds for the RateWindow
// seconds up to and including now's (and later ones: replicas' clocks
// differ).
func (r *AdmitRing) InWindow(now time.Time) int64 {
	from := now.Unix() - RateWindow
	var n int64
	for _, s := range r {
		if s.Sec > from {
			n += s.N
		}
	}
	return n
}

// StreamReport is one replica's count of an event's open streams at At.
type StreamReport struct {
	Replica string
	Count   int64
	At      time.Time
}

// FigureRecord is what a store keeps for an event's figures.
type FigureRecord struct {
	Event Event
	Stats EventStats
	// Totals count since Since, the event's first join (zero before it).
	Totals Totals
	Since  time.Time
	Admits AdmitRing
	// Waits are the most recent admissions' waits, at most MaxWaitSamples,
	// in no particular order.
	Waits []time.Duration
	// Streams are the replicas' reports, stale ones possibly included.
	Streams []StreamReport
}

// Figures are an event's live figures at At.
type Figures struct {
	Event Event
	At    time.Time
	Stats EventStats
	Totals
	// AdmittedPerSecond is the admission rate over the last RateWindow
	// seconds, or since the first join if that is shorter.
	AdmittedPerSecond float64
	// WaitP50 and WaitP90 are percentiles (nearest rank) of the recent
	// waits; zero when WaitSamples is.
	WaitP50, WaitP90 time.Duration
	WaitSamples      int
	// OpenStreams sums the reports of the Replicas that reported within
	// StreamReportTTL before At.
	OpenStreams int64
	Replicas    int
}

// FiguresAt turns a record into the figures at now.
func (r FigureRecord) FiguresAt(now time.Time) Figures {
	f := Figures{Event: r.Event, At: now, Stats: r.Stats, Totals: r.Totals, WaitSamples: len(r.Waits)}
	if !r.Since.IsZero() {
		span := min(RateWindow, max(1, now.Unix()-r.Since.Unix()+1))
		f.AdmittedPerSecond = float64(r.Admits.InWindow(now)) / float64(span)
	}
	if len(r.Waits) > 0 {
		w := slices.Sorted(slices.Values(r.Waits))
		f.WaitP50, f.WaitP90 = percentile(w, 0.5), percentile(w, 0.9)
	}
	for _, s := range r.Streams {
		if s.Count > 0 && now.Sub(s.At) < StreamReportTTL {
			f.OpenStreams += s.Count
			f.Replicas++
		}
	}
	return f
}

// percentile is the nearest-rank p-th percentile of sorted, which is not
// empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Figures reads an event's live figures now.
func (s *Service) Figures(ctx context.Context, eventID string) (Figures, error) {
	if err := ValidateEventID(eventID); err != nil {
		return Figures{}, err
	}
	r, err := s.store.Figures(ctx, eventID)
	if err != nil {
		return Figures{}, err
	}
	return r.FiguresAt(s.now()), nil
}
