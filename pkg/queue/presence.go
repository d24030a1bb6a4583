package queue

import (
	"context"
	"time"
)

// Presence-aware admission. A session is present within
// Config.PresenceGrace of joining or of a status call, and while it has an
// open position stream on any replica. When the head of a queue is absent, admission passes
// over it to the next present session: the absent one is held. A held
// session keeps its ticket, and so its place in line; every session not yet
// passed over is behind it, so it is admitted first once present again. It
// expires at its HeldUntil (ExpiredAbsent) if it is absent then; one that is
// back, waiting for a free slot, keeps its place while it stays present.
//
// Presence costs the store O(replicas) commands per grace period, not
// O(streams): each replica tells the store, per event, every session it
// streams, in one batched MarkPresent every PresenceGrace/3.

// Defaults for the presence settings.
const (
	// DefaultPresenceGrace is how long a status call or a stream keeps a
	// session present after it.
	DefaultPresenceGrace = 2 * time.Minute
	// DefaultAbsentTTL is how long a held session keeps its place.
	DefaultAbsentTTL = 15 * time.Minute
	// MinPresenceGrace is the shortest grace: the refresh runs every third
	// of it.
	MinPresenceGrace = 3 * time.Second
)

// PresenceStore is the part of a Store that presence-aware admission uses.
type PresenceStore interface {
	// MarkPresent records that the event's sessions ids are present until
	// until. It never shortens a session's presence. Ids of other events,
	// malformed ids and sessions that are not queued are ignored (a queued
	// session's presence only matters while it waits). It changes no
	// session, so it announces nothing. One call is one store command for
	// thousands of ids (a store may split a huge list, so as not to hold a
	// shared server for long).
	MarkPresent(ctx context.Context, eventID string, ids []string, until time.Time) error

	// AdmitPresent is Admit that passes over absent sessions: a session is
	// present if MarkPresent says so at now, or if it joined less than
	// p.Grace before now. Held sessions (passed over before) that are
	// present again come first, in ticket order; then it walks the queue
	// from where the last walk stopped, admitting present sessions and
	// holding absent ones: their HeldUntil becomes now + p.Hold. A call
	// passes over at most limit absent sessions, so its cost is
	// O((admitted + limit) log n) whatever the run of absent heads; a longer
	// run takes several calls (processor passes). With p.Hold <= 0 it is
	// Admit. It announces one ChangeAdmitted when it admits anyone; holding
	// changes no position, queue length or status, and is not announced (a
	// held session's own reads show it).
	AdmitPresent(ctx context.Context, eventID string, now time.Time, limit int, p PresenceRule) ([]Session, error)
}

// PresenceRule is how AdmitPresent tells the present from the absent, and
// how long it holds the places of the absent.
type PresenceRule struct {
	// Grace is how long a session is present after it joined.
	Grace time.Duration
	// Hold is how long a passed-over session keeps its place; <= 0 turns
	// presence-aware admission off.
	Hold time.Duration
}

// ExpiryReason says why a session expired.
type ExpiryReason uint8

// The expiry reasons. The zero value is none (a session that did not expire).
const (
	// ExpiredQueueTTL: the session waited longer than the session TTL.
	ExpiredQueueTTL ExpiryReason = iota + 1
	// ExpiredCheckoutWindow: an admitted session did not complete checkout
	// within its window.
	ExpiredCheckoutWindow
	// ExpiredAbsent: a held session did not come back by its HeldUntil.
	ExpiredAbsent
	// ExpiredEventDeleted: an operator deleted the event with force.
	ExpiredEventDeleted
)

// String returns the reason's name on Kafka and pub/sub.
func (r ExpiryReason) String() string {
	switch r {
	case ExpiredQueueTTL:
		return "queue_ttl"
	case ExpiredCheckoutWindow:
		return "checkout_window"
	case ExpiredAbsent:
		return "absent"
	case ExpiredEventDeleted:
		return "event_deleted"
	}
	return ""
}

// ParseExpiryReason is the inverse of ExpiryReason.String; "" and unknown
// names give the zero reason.
func ParseExpiryReason(s string) ExpiryReason {
	for r := ExpiredQueueTTL; r <= ExpiredEventDeleted; r++ {
		if r.String() == s {
			return r
		}
	}
	return 0
}

// Held reports whether the session waits with its place held.
func (s Session) Held() bool { return s.Status == StatusQueued && !s.HeldUntil.IsZero() }

// StreamingSessions is implemented by Streams that can list the sessions
// they stream, by event: the replica's evidence of presence.
type StreamingSessions interface {
	Streaming() map[string][]string
}

func (c Config) presenceDefaults() Config {
	switch {
	case c.PresenceGrace == 0:
		c.PresenceGrace = DefaultPresenceGrace
	case c.PresenceGrace > 0:
		c.PresenceGrace = max(c.PresenceGrace, MinPresenceGrace)
	}
	if c.AbsentTTL <= 0 {
		c.AbsentTTL = DefaultAbsentTTL
	}
	return c
}

// PresenceOn says whether admission passes over absent sessions.
func (s *Service) PresenceOn() bool { return s.cfg.PresenceGrace > 0 }

// admit is the processor's admission call: presence-aware when it is on.
func (s *Service) admit(ctx context.Context, eventID string, limit int) ([]Session, error) {
	if !s.PresenceOn() {
		return s.store.Admit(ctx, eventID, s.now(), limit)
	}
	return s.store.AdmitPresent(ctx, eventID, s.now(), limit, PresenceRule{Grace: s.cfg.PresenceGrace, Hold: s.cfg.AbsentTTL})
}

// markPresent records a visitor's own call (a status call, a stream opened,
// a repeated join) as presence; a new session is present for the grace
// after it joined without one. It is best effort: the call it rides on has already
// done its work, and a lost mark only risks a hold the next refresh or call
// undoes.
func (s *Service) markPresent(ctx context.Context, sess Session) {
	if !s.PresenceOn() || sess.Status != StatusQueued {
		return
	}
	if err := s.store.MarkPresent(ctx, sess.EventID, []string{sess.ID}, s.now().Add(s.cfg.PresenceGrace)); err != nil {
		s.log.Debug("Cannot record presence", "session_id", sess.ID, "error", err)
	}
}

// RunPresence refreshes the presence of the sessions this replica streams
// every PresenceGrace/3 until ctx ends; it returns at once when presence is
// off or the streams cannot list their sessions.
func (s *Service) RunPresence(ctx context.Context) error {
	if !s.PresenceOn() {
		return nil
	}
	if _, ok := s.streams.(StreamingSessions); !ok {
		return nil
	}
	every := s.cfg.PresenceGrace / 3
	s.log.Info("Started presence refresh", "grace", s.cfg.PresenceGrace, "every", every, "absent_ttl", s.cfg.AbsentTTL)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.RefreshPresence(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("Cannot refresh presence; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RefreshPresence marks every session this replica streams present for
// PresenceGrace: one store call per event. It returns the first error.
func (s *Service) RefreshPresence(ctx context.Context) error {
	ss, ok := s.streams.(StreamingSessions)
	if !s.PresenceOn() || !ok {
		return nil
	}
	until := s.now().Add(s.cfg.PresenceGrace)
	var first error
	for ev, ids := range ss.Streaming() {
		if err := s.store.MarkPresent(ctx, ev, ids, until); err != nil && first == nil {
			first = err
		}
	}
	return first
}
