package fanout

import (
	"sync/atomic"
	"time"
)

// Defaults for the streaming cadence (README, "Streaming cadence").
const (
	// DefaultRealtimePositions: the first thousand are the visitors a
	// typical admission rate lets in within minutes, who watch the count
	// closely; past them, a position only moves people from "far" to
	// "slightly less far".
	DefaultRealtimePositions = 1000
	DefaultMaxInterval       = 5 * time.Second
)

// Cadence is how often a stream is sent position messages: every change
// (coalesced by Coalesce) within RealtimePositions of the head; further back,
// at least Interval(position) apart.
type Cadence struct {
	Coalesce          time.Duration
	RealtimePositions int64
	MaxInterval       time.Duration
}

// Interval is the shortest time between two position messages to a stream
// at position (1-based): 0 within RealtimePositions, then Coalesce ×
// (position/RealtimePositions)², at most MaxInterval. It starts at Coalesce,
// so it runs on from the front without a step, and grows with the square of
// the distance: one message per R²·Coalesce/p² per second, summed over every
// position past R, is at most R/Coalesce messages a second (10,000 with the
// defaults) before MaxInterval caps it, whatever the length of the queue;
// the capped tail costs its length ÷ MaxInterval.
func (c Cadence) Interval(position int64) time.Duration {
	if position <= c.RealtimePositions || c.RealtimePositions <= 0 {
		return 0
	}
	r := float64(position) / float64(c.RealtimePositions)
	d := float64(c.Coalesce) * r * r
	if d >= float64(c.MaxInterval) {
		return max(c.MaxInterval, c.Coalesce)
	}
	return time.Duration(d)
}

// FirstDelay is how long the first change after a quiet spell (the
// stream's interval passed with nothing held back) waits before it is sent
// to a stream at position: the session's phase of the interval (phaseOf),
// ending a wake-up grid before it; 0, send now, within RealtimePositions or
// when the phase is too short to be worth a wait.
func (c Cadence) FirstDelay(sessionID string, position int64) time.Duration {
	if d := phaseOf(sessionID, c.Interval(position)-cadenceGrid); d >= minPhaseDelay {
		return d
	}
	return 0
}

// Gap is how long after a position message to a stream at position the next
// may go: its interval, shortened to the wake-up grid (early).
func (c Cadence) Gap(position int64) time.Duration { return early(c.Interval(position)) }

// cadence returns the config's cadence.
func (c Config) cadence() Cadence {
	return Cadence{Coalesce: c.Coalesce, RealtimePositions: c.RealtimePositions, MaxInterval: c.MaxInterval}
}

// cadenceCounts are the hub's running totals of what the cadence did.
type cadenceCounts struct {
	// held counts position messages the cadence held back (a later flush
	// sends the newest state instead): one for each flush that found a
	// stream's new state inside its interval, and one for each parked
	// stream that missed changes while parked.
	held atomic.Int64
	// parked is the streams parked now, on every view (park.go).
	parked atomic.Int64
}

// CadenceStats are the cadence's settings and figures, for /debug/stats.
type CadenceStats struct {
	RealtimePositions     int64
	Coalesce, MaxInterval time.Duration
	// Held counts position messages held back by the cadence since start;
	// Parked is the streams held back now, which flushes pass by.
	Held, Parked int64
	// SendsInFlight and SendsWaiting are the messages being written now and
	// those waiting for a send slot; SentFinal, SentRealtime and
	// SentCadenced count the slots granted since start, by priority, and
	// SendsQueued those that had to wait.
	SendsInFlight, SendsWaiting           int
	SentFinal, SentRealtime, SentCadenced int64
	SendsQueued                           int64
	// SendsStalled counts messages let past the limit because no slot was
	// given back for a while (clients that do not read).
	SendsStalled int64
}

// Cadence returns the cadence's settings and figures.
func (h *Hub) Cadence() CadenceStats {
	s := h.sends.stats()
	return CadenceStats{
		RealtimePositions: h.cfg.RealtimePositions,
		Coalesce:          h.cfg.Coalesce,
		MaxInterval:       h.cfg.MaxInterval,
		Held:              h.cadenceCounts.held.Load(),
		Parked:            h.cadenceCounts.parked.Load(),
		SendsInFlight:     s.InFlight,
		SendsWaiting:      s.Waiting,
		SentFinal:         s.Sent[prioFinal],
		SentRealtime:      s.Sent[prioRealtime],
		SentCadenced:      s.Sent[prioCadenced],
		SendsQueued:       s.Queued,
		SendsStalled:      s.Stalls,
	}
}

// cadenceGrid rounds the times at which a view wakes to send held-back
// messages, so that streams due at different moments share a flush (each
// costs a pass over the event's streams) at no more than 4 a second.
const cadenceGrid = 250 * time.Millisecond

// holdBack reports whether the cadence holds back u, a new state for w; when
// it lets u go, it notes when the next position message may follow and gives
// u the time of the oldest change held back from w. A change of status or of
// fair-start placement is never held back. Called with v.mu held.
func (v *eventView) holdBack(w *Watcher, sh shown, u *update) bool {
	now := v.cfg.Now().UnixNano()
	if sh.status == w.last.status && sh.fair == w.last.fair {
		if now >= w.nextPosAt && w.heldAt == 0 && !v.changedAt.IsZero() {
			// The first change after a quiet spell: it goes at the stream's
			// phase of its interval rather than at once (see phaseOf).
			if d := v.cadence.FirstDelay(w.sessionID, sh.position); d > 0 {
				w.nextPosAt = now + int64(d)
			}
		}
		if now < w.nextPosAt {
			v.counts.held.Add(1)
			if w.heldAt == 0 && !v.changedAt.IsZero() {
				w.heldAt = v.changedAt.UnixNano()
			}
			if v.cadenceDue == 0 || w.nextPosAt < v.cadenceDue {
				v.cadenceDue = w.nextPosAt
			}
			return true
		}
	}
	if w.heldAt != 0 {
		if at := time.Unix(0, w.heldAt); u.ChangedAt.IsZero() || at.Before(u.ChangedAt) {
			u.ChangedAt = at
		}
		w.heldAt = 0
	}
	w.nextPosAt = now + int64(v.cadence.Gap(sh.position))
	return false
}

// minPhaseDelay is the shortest phase worth holding a message for: below
// it, the flush that finds the message sends it.
const minPhaseDelay = 10 * time.Millisecond

// phaseOf is how far into its interval a stream's first message after a
// quiet spell goes: a fraction of interval fixed by the session's id.
//
// Without it the cadence gathers the far streams into waves. A change after
// a quiet spell (the first join after the streams opened, a sale resuming)
// finds every one of them past its interval, so all go in that flush; the
// next interval ends for all of them together, and so on, every
// MaxInterval: 100,000 messages at once every 5 s instead of 20,000 a
// second, a burst the core needs seconds to write, while READY and the
// front queue behind it. Spread by phase, each flush sends its share of
// those 20,000 a second. A stream's state is still never older than its interval: the
// phase is part of it.
func phaseOf(sessionID string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	// FNV-1a: session ids are random, so any mixing of their bytes spreads
	// the phases evenly; this one needs no allocation.
	h := uint32(2166136261)
	for i := 0; i < len(sessionID); i++ {
		h = (h ^ uint32(sessionID[i])) * 16777619
	}
	return time.Duration(uint64(interval) * uint64(h>>16) >> 16)
}

// stillHeld reports whether a flush may pass w by without working out its
// state: its interval has not passed, and nothing the cadence never holds
// back (a status, a fair-start placement) can have changed. Most streams of
// a long queue are held at most flushes, and their positions need not be
// computed only to be held back; the wake-up at nextPosAt works the state out
// then. Called with v.mu held.
func (v *eventView) stillHeld(w *Watcher) bool {
	if w.nextPosAt <= v.cfg.Now().UnixNano() || w.session.Status != w.last.status || w.fair != (fairState{}) {
		return false
	}
	if !v.changedAt.IsZero() {
		// A change every stream sees (the queue's length moved, at least).
		v.counts.held.Add(1)
		if w.heldAt == 0 {
			w.heldAt = v.changedAt.UnixNano()
		}
	}
	if v.cadenceDue == 0 || w.nextPosAt < v.cadenceDue {
		v.cadenceDue = w.nextPosAt
	}
	return true
}

// releaseHeld lets a stream due for a heartbeat have the state the cadence
// holds back from it instead, at the next flush: a heartbeat would vouch for
// a state that is no longer current. Called with v.mu held.
func (v *eventView) releaseHeld(w *Watcher) bool {
	if w.heldAt == 0 && !v.wheel.missed(w) {
		return false
	}
	v.wheel.wake(w)
	w.nextPosAt = 0
	v.dirty = true
	v.poke()
	return true
}

// armCadence sets t to wake the loop when the first held-back message is
// due, rounded up to cadenceGrid; it stops t when none is.
func (v *eventView) armCadence(t *time.Timer) {
	v.mu.Lock()
	due := v.cadenceDue
	v.mu.Unlock()
	if due == 0 {
		t.Stop()
		return
	}
	g := int64(cadenceGrid)
	due = (due + g - 1) / g * g
	t.Reset(time.Duration(due - v.cfg.Now().UnixNano()))
}

// early is interval shortened by up to cadenceGrid (at most half of it): the
// loop wakes for held-back messages on the grid, so a message due between
// two wake-ups goes at the earlier one rather than up to a grid late, and a
// stream's state is at most its interval old, plus the flush and the write.
func early(interval time.Duration) time.Duration {
	return interval - min(cadenceGrid, interval/2)
}

// cadenceDueNow asks the next step to flush: held-back messages are due.
func (v *eventView) cadenceDueNow() {
	v.mu.Lock()
	v.dirty = true
	v.mu.Unlock()
}
