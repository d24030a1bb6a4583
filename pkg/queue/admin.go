package queue

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrEventLive: DeleteEvent without force on an event that still has live
// sessions (FailedPrecondition).
var ErrEventLive = errors.New("event has live sessions: delete it with force to end them")

// EventField names a setting UpdateEvent can change.
type EventField uint8

// The settable fields, as bits of EventFields.
const (
	FieldState EventField = 1 << iota
	FieldMaxConcurrent
	FieldCheckoutWindow
	FieldCheckoutURL
	FieldSaleStartsAt
	FieldAdmissionRate
	FieldLanes
)

// EventFields is a set of EventField.
type EventFields uint8

// AllEventFields is every settable field: what PutEvent writes.
const AllEventFields = EventFields(FieldState | FieldMaxConcurrent | FieldCheckoutWindow | FieldCheckoutURL | FieldSaleStartsAt | FieldAdmissionRate | FieldLanes)

// Has reports whether f is in the set.
func (fs EventFields) Has(f EventField) bool { return fs&EventFields(f) != 0 }

// eventFieldNames are the fields' names in the API (update_mask paths).
var eventFieldNames = []struct {
	f    EventField
	name string
}{
	{FieldState, "state"},
	{FieldMaxConcurrent, "max_concurrent"},
	{FieldCheckoutWindow, "checkout_window"},
	{FieldCheckoutURL, "checkout_url"},
	{FieldSaleStartsAt, "sale_starts_at"},
	{FieldAdmissionRate, "admission_rate"},
	{FieldLanes, "lanes"},
}

// ParseEventField returns the field an update_mask path names; ok is false
// for an unknown or read-only one.
func ParseEventField(path string) (EventField, bool) {
	for _, n := range eventFieldNames {
		if n.name == path {
			return n.f, true
		}
	}
	return 0, false
}

// Names lists the set's field names in a fixed order.
func (fs EventFields) Names() []string {
	var out []string
	for _, n := range eventFieldNames {
		if fs.Has(n.f) {
			out = append(out, n.name)
		}
	}
	return out
}

// EventUpdate is an UpdateEvent: Event's fields that Fields names, the
// others ignored.
type EventUpdate struct {
	Event  Event
	Fields EventFields
}

// Apply returns stored with u's fields changed: the rule every store keeps
// (Redis's script repeats it). The fair start merges as in PutEvent
// (MergeFairStart), given the event's last ticket.
func (u EventUpdate) Apply(stored Event, lastTicket uint64) Event {
	e, f := u.Event, u.Fields
	if f.Has(FieldState) {
		stored.State = e.State
	}
	if f.Has(FieldMaxConcurrent) {
		stored.MaxConcurrent = e.MaxConcurrent
	}
	if f.Has(FieldCheckoutWindow) {
		stored.CheckoutWindow = e.CheckoutWindow
	}
	if f.Has(FieldCheckoutURL) {
		stored.CheckoutURL = e.CheckoutURL
	}
	if f.Has(FieldSaleStartsAt) {
		stored.FairStart = MergeFairStart(stored.FairStart, e.FairStart, lastTicket)
	}
	if f.Has(FieldAdmissionRate) {
		stored.AdmissionRate = e.AdmissionRate
	}
	if f.Has(FieldLanes) {
		stored.Lanes = e.Lanes
	}
	return stored
}

// EventAdminStore is the part of a Store the admin API's changes use.
type EventAdminStore interface {
	// UpdateEvent changes the named fields of an event's settings
	// atomically (EventUpdate.Apply), keeps the others, and returns the
	// settings as stored. The event becomes an operator's, as with
	// PutEvent (never forgotten). ErrEventNotFound for an unknown event: it
	// never creates one. Announces nothing.
	UpdateEvent(ctx context.Context, u EventUpdate) (Event, error)

	// DeleteEvent deletes an event, limit sessions at a time. Without
	// force, an event with any live (queued or ready) session is refused
	// with ErrEventLive and nothing changes. With force, the event is
	// closed (so no join adds to the work) and at most limit live sessions
	// end with status Expired and reason ExpiredEventDeleted, announced as
	// one ChangeExpired; they are no longer readable afterwards. Once none
	// is live, the same call removes the event: its settings and keys, as
	// ForgetIdle does, at once: it is unknown from then on, a join
	// registers it afresh, and its changes go on numbering after the last
	// Seq. Unrelayed outbox entries are kept (and the event listed by
	// LiveEvents, with zero settings) until relayed. It returns the
	// sessions it ended and whether the event is gone;
	// ErrEventNotFound for an unknown event.
	DeleteEvent(ctx context.Context, id string, now time.Time, force bool, limit int) (ended []Session, done bool, err error)

	// EventsAfter returns at most limit events whose ids sort after after,
	// ordered by id: a page of Events.
	EventsAfter(ctx context.Context, after string, limit int) ([]Event, error)
}

// MaxAdmissionRate bounds Event.AdmissionRate (users per second).
const MaxAdmissionRate = 1e6

// RateBucket is an event's admission-rate token bucket: Tokens left at At.
// A fresh one (At zero) is full. Every store keeps one per event, updated
// in the same atomic step as the admissions it allows, so that replicas
// share the budget (Redis's scripts repeat the rule).
type RateBucket struct {
	Tokens float64
	At     time.Time
}

// RateBurst is how many tokens a bucket holds at most under rate: one
// second's worth, and at least one.
func RateBurst(rate float64) float64 { return max(1, rate) }

// Allowed is how many sessions the bucket lets in at now under rate
// (users per second); rate <= 0 is unlimited.
func (b RateBucket) Allowed(rate float64, now time.Time) int64 {
	if rate <= 0 {
		return math.MaxInt64
	}
	// The epsilon keeps a sum of tenths that is 0.9999999 from waiting a tick.
	return int64(math.Floor(b.available(rate, now) + 1e-9))
}

func (b RateBucket) available(rate float64, now time.Time) float64 {
	if b.At.IsZero() {
		return RateBurst(rate)
	}
	elapsed := max(0, now.Sub(b.At).Seconds())
	return min(RateBurst(rate), b.Tokens+rate*elapsed)
}

// Take is the bucket after n admissions at now under rate. Replicas' clocks
// differ: a now before At counts as At.
func (b RateBucket) Take(rate float64, now time.Time, n int64) RateBucket {
	if rate <= 0 || n <= 0 {
		return b
	}
	t := b.available(rate, now) - float64(n)
	if now.Before(b.At) {
		now = b.At
	}
	return RateBucket{Tokens: t, At: now}
}

// UpdateEvent validates and stores a change of some of an event's settings.
func (s *Service) UpdateEvent(ctx context.Context, u EventUpdate) (Event, error) {
	if err := ValidateEventID(u.Event.ID); err != nil {
		return Event{}, err
	}
	if u.Fields == 0 {
		return Event{}, &InvalidArgumentError{Field: "update_mask", Reason: "must name at least one field"}
	}
	if err := s.normalize(ctx, &u.Event, u.Fields); err != nil {
		return Event{}, err
	}
	return s.store.UpdateEvent(ctx, u)
}

// DeleteEvent deletes an event (EventAdminStore.DeleteEvent), AdmitBatch
// sessions per store call, and returns how many live sessions it ended.
func (s *Service) DeleteEvent(ctx context.Context, id string, force bool) (int, error) {
	if err := ValidateEventID(id); err != nil {
		return 0, err
	}
	total := 0
	for {
		ended, done, err := s.store.DeleteEvent(ctx, id, s.now(), force, s.cfg.AdmitBatch)
		if errors.Is(err, ErrEventNotFound) && total > 0 {
			// A call retried after a timeout found its own work done.
			done, err = true, nil
		}
		if err != nil {
			return total, err
		}
		total += len(ended)
		if len(ended) > 0 {
			s.published(id, ChangeExpired, len(ended))
		}
		if done {
			s.log.Info("Deleted event", "event_id", id, "expired", total)
			return total, nil
		}
		if len(ended) == 0 {
			// Live sessions the store cannot end (a hand-edited Redis):
			// stop rather than spin.
			return total, fmt.Errorf("delete event %s: a step ended no session and left some live", id)
		}
	}
}

// Paging of ListEvents.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// EventsPage returns a page of at most pageSize events (0: DefaultPageSize;
// larger than MaxPageSize: MaxPageSize) after the one token names ("" from
// the first), and the token of the next page ("" after the last).
func (s *Service) EventsPage(ctx context.Context, pageSize int, token string) ([]Event, string, error) {
	switch {
	case pageSize < 0:
		return nil, "", &InvalidArgumentError{Field: "page_size", Reason: "must not be negative"}
	case pageSize == 0:
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || ValidateEventID(string(b)) != nil {
			return nil, "", &InvalidArgumentError{Field: "page_token", Reason: "not a token ListEvents gave"}
		}
		after = string(b)
	}
	evs, err := s.store.EventsAfter(ctx, after, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	if len(evs) <= pageSize {
		return evs, "", nil
	}
	evs = evs[:pageSize]
	return evs, base64.RawURLEncoding.EncodeToString([]byte(evs[pageSize-1].ID)), nil
}

// PutEvent validates an event's settings, fills in the defaults and stores
// it, replacing every setting (UpdateEvent changes some).
func (s *Service) PutEvent(ctx context.Context, e Event) (Event, error) {
	if err := ValidateEventID(e.ID); err != nil {
		return Event{}, err
	}
	if err := s.normalize(ctx, &e, AllEventFields); err != nil {
		return Event{}, err
	}
	return s.store.PutEvent(ctx, e)
}

// normalize validates the fields of e that fields names and fills in their
// defaults: the rules PutEvent and UpdateEvent share.
func (s *Service) normalize(ctx context.Context, e *Event, fields EventFields) error {
	if fields.Has(FieldState) {
		switch {
		case e.State == 0:
			e.State = EventActive
		case e.State > EventClosed:
			return &InvalidArgumentError{Field: "state", Reason: "unknown state"}
		}
	}
	if fields.Has(FieldMaxConcurrent) {
		switch {
		case e.MaxConcurrent == 0:
			e.MaxConcurrent = s.cfg.DefaultMaxConcurrent
		case e.MaxConcurrent < 0:
			return &InvalidArgumentError{Field: "max_concurrent", Reason: "must not be negative"}
		}
	}
	if fields.Has(FieldCheckoutWindow) {
		switch {
		case e.CheckoutWindow == 0:
			e.CheckoutWindow = s.cfg.CheckoutWindow
		case e.CheckoutWindow < time.Second:
			return &InvalidArgumentError{Field: "checkout_window", Reason: "must be at least one second"}
		}
	}
	if fields.Has(FieldCheckoutURL) {
		if err := ValidateCheckoutURL("checkout_url", e.CheckoutURL); e.CheckoutURL != "" && err != nil {
			return err
		}
	}
	if fields.Has(FieldAdmissionRate) {
		if r := e.AdmissionRate; math.IsNaN(r) || r < 0 || r > MaxAdmissionRate {
			return &InvalidArgumentError{Field: "admission_rate", Reason: "must be between 0 (unlimited) and 1000000 users per second"}
		}
	}
	if fields.Has(FieldLanes) {
		if err := validateLanes(e.Lanes); err != nil {
			return err
		}
	}
	if fields.Has(FieldSaleStartsAt) {
		return s.checkFairStart(ctx, e)
	}
	return nil
}
