package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The admin API's changes (queue.EventAdminStore) and the admission rate.

const (
	// fieldRate is the event's admission rate (users per second) in its
	// settings hash; absent is 0, unlimited.
	fieldRate = "admission_rate"
	// rateKey is the admission-rate bucket, a hash of tokens and at_ms
	// (lua/rate.lua).
	rateKey = "rate"
	// replyLive: delete_event.lua refused, the event has live sessions.
	replyLive = "live"
)

// formatRate is a rate as the settings hash keeps it.
func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }

// decodeRate reads the rate from a settings hash.
func decodeRate(m map[string]string) (float64, error) {
	v, ok := m[fieldRate]
	if !ok || v == "" {
		return 0, nil
	}
	return strconv.ParseFloat(v, 64)
}

// UpdateEvent implements queue.EventAdminStore: one script sets the named
// fields of the settings hash and nothing else.
func (s *Store) UpdateEvent(ctx context.Context, u queue.EventUpdate) (queue.Event, error) {
	e, f := u.Event, u.Fields
	k := eventKeys(e.ID)
	sale := []string{"", ""}
	if f.Has(queue.FieldSaleStartsAt) {
		sale = fairStartArgs(e.FairStart)
	}
	args := s.args(k, e.ID, time.Time{}, sale...)
	if f.Has(queue.FieldState) {
		args = append(args, fieldState, e.State.String())
	}
	if f.Has(queue.FieldMaxConcurrent) {
		args = append(args, fieldMaxConcurrent, strconv.FormatInt(e.MaxConcurrent, 10))
	}
	if f.Has(queue.FieldCheckoutWindow) {
		args = append(args, fieldCheckoutWindow, strconv.FormatInt(e.CheckoutWindow.Milliseconds(), 10))
	}
	if f.Has(queue.FieldCheckoutURL) {
		args = append(args, fieldCheckoutURL, e.CheckoutURL)
	}
	if f.Has(queue.FieldAdmissionRate) {
		args = append(args, fieldRate, formatRate(e.AdmissionRate))
	}
	if f.Has(queue.FieldLanes) {
		args = append(args, fieldLanes, formatLanes(e.Lanes))
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	r := updateEventScript.Exec(cctx, s.client, k.list, args)
	s.wrote(e.ID) // even on error: the script may have run
	if err := r.Error(); err != nil {
		return queue.Event{}, failed(ctx, err)
	}
	if code, err := r.ToString(); err == nil && code == replyNotFound {
		return queue.Event{}, queue.ErrEventNotFound
	}
	if code, err := r.ToString(); err == nil && code == replyLanesInUse {
		return queue.Event{}, queue.ErrLanesInUse
	}
	stored, ok, err := decodeEvent(e.ID, r)
	if err != nil {
		return queue.Event{}, err
	}
	if !ok {
		return queue.Event{}, queue.ErrEventNotFound
	}
	return stored, nil
}

// DeleteEvent implements queue.EventAdminStore: one script call per step,
// each ending at most limit sessions (about eight commands each), so a
// deletion of a million sessions takes a thousand short steps and never
// holds Redis for long. Once the event is gone it leaves EventsKey and, when
// nothing is left to relay, LiveKey.
func (s *Store) DeleteEvent(ctx context.Context, id string, now time.Time, force bool, limit int) ([]queue.Session, bool, error) {
	k := eventKeys(id)
	f := ""
	if force {
		f = "1"
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	r := deleteEventScript.Exec(cctx, s.client, k.list, s.args(k, id, now, f, strconv.Itoa(limit)))
	s.wrote(id)
	if err := r.Error(); err != nil {
		return nil, false, failed(ctx, err)
	}
	if code, err := r.ToString(); err == nil {
		switch code {
		case replyNotFound:
			return nil, false, queue.ErrEventNotFound
		case replyLive:
			return nil, false, queue.ErrEventLive
		}
		return nil, false, fmt.Errorf("redisstore: delete event: unexpected reply %q", code)
	}
	a, err := r.ToArray()
	if err != nil || len(a) < 2 {
		return nil, false, fmt.Errorf("redisstore: delete event: unexpected reply %v", r)
	}
	ended, err := decodeSessions(a[2:])
	if err != nil {
		return nil, false, err
	}
	done, _ := a[0].AsInt64()
	if done == 0 {
		return ended, false, nil
	}
	return ended, true, s.unlist(ctx, id, now)
}

// unlist takes a deleted event out of EventsKey and IdleKey (and puts it
// back in EventsKey if a join has registered it again meanwhile, as
// forgetting does), and files it in LiveKey by what is left to relay.
func (s *Store) unlist(ctx context.Context, id string, now time.Time) error {
	s.listed.Delete(id)
	if err := s.retire(ctx, id, now); err != nil {
		return err
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	return s.file(cctx, ctx, id, idleResult{code: idleForgotten})
}

// EventsAfter implements queue.EventAdminStore: the ids come from EventsKey
// (SMEMBERS, O(events), a few bytes each), the settings of the page only.
func (s *Store) EventsAfter(ctx context.Context, after string, limit int) ([]queue.Event, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	ids, err := s.client.Do(cctx, s.client.B().Smembers().Key(EventsKey).Build()).AsStrSlice()
	if err != nil {
		return nil, failed(ctx, err)
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id <= after })
	slices.Sort(ids)
	var out []queue.Event
	for len(ids) > 0 && len(out) < limit {
		page := ids[:min(len(ids), limit-len(out))]
		ids = ids[len(page):]
		// Listed without settings (a crash between listing and the first
		// script, or a deletion in progress): skipped.
		evs, _, err := s.settingsOf(cctx, page)
		if err != nil {
			return nil, failed(ctx, err)
		}
		out = append(out, evs...)
	}
	return out, nil
}
