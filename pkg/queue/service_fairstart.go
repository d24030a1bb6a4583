package queue

import (
	"context"
	"errors"
	"time"
)

// checkFairStart prepares a PutEvent's fair start: sale_starts_at to the
// millisecond (what every store keeps) with a fresh seed, which the store
// uses only if sale_starts_at is set for the first time. A placed fair start
// is history: a different sale_starts_at is refused.
func (s *Service) checkFairStart(ctx context.Context, e *Event) error {
	f := &e.FairStart
	*f = FairStart{SaleStartsAt: f.SaleStartsAt}
	if !f.On() {
		return nil
	}
	if f.SaleStartsAt.Before(time.Unix(0, 0)) || f.SaleStartsAt.Year() > 9999 {
		return &InvalidArgumentError{Field: "sale_starts_at", Reason: "out of range"}
	}
	f.SaleStartsAt = f.SaleStartsAt.Truncate(time.Millisecond).UTC()
	f.Seed = NewSeed()
	stored, _, err := s.store.Event(ctx, e.ID)
	switch {
	case errors.Is(err, ErrEventNotFound):
		return nil
	case err != nil:
		return err
	}
	if sf := stored.FairStart; sf.IsPlaced() && !sf.SaleStartsAt.Equal(f.SaleStartsAt) {
		return ErrSaleStarted
	}
	return nil
}

// fairStartView adds a pre-queue session's fair start to its view.
func (s *Service) fairStartView(ctx context.Context, v *View, pl Place) error {
	e, _, err := s.store.Event(ctx, v.Session.EventID)
	if err != nil {
		return err
	}
	v.FairStart = e.FairStart.Info()
	if pl.Unplaced && v.FairStart != nil {
		// The store read the session before a placement the event read
		// saw: show it unplaced, as its place is.
		v.FairStart.PlacedAt, v.FairStart.Placed, v.FairStart.Seed = time.Time{}, 0, ""
	}
	return nil
}

// placeDue places the event's pre-queue once its sale starts. Replicas race
// for it; the store lets exactly one place.
func (s *Service) placeDue(ctx context.Context, e Event) error {
	if !e.FairStart.Due(s.now()) {
		return nil
	}
	start := time.Now()
	fs, placed, err := s.store.PlacePreQueue(ctx, e.ID, s.now())
	if err != nil || !placed {
		return err
	}
	s.published(e.ID, ChangePlaced, int(fs.Placed))
	s.log.Info("Placed the pre-queue in its fair order", "event_id", e.ID, "count", fs.Placed,
		"seed_commitment", fs.Commitment(), "took", time.Since(start))
	return nil
}

// PreQueue returns an event's placed fair start and its pre-queue's session
// ids in their placed order; ErrNotPlaced before placement.
func (s *Service) PreQueue(ctx context.Context, eventID string) (FairStart, []string, error) {
	if err := ValidateEventID(eventID); err != nil {
		return FairStart{}, nil, err
	}
	e, _, err := s.store.Event(ctx, eventID)
	if err != nil {
		return FairStart{}, nil, err
	}
	if !e.FairStart.IsPlaced() {
		return FairStart{}, nil, ErrNotPlaced
	}
	ids, err := s.store.PreQueue(ctx, eventID)
	return e.FairStart, ids, err
}
