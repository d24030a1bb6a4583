package kafka

import (
	"context"
	"slices"
)

// refreshEvents polls the live events from now on, and stops polling the
// others once the relay holds nothing of theirs: an event with an outbox
// entry is always live, so an idle system costs the store nothing per
// event. (An event taken off the list just as it gains an entry is listed
// again at the next refresh, or polled at once when WakeEvent names it.)
func (r *Relay) refreshEvents(ctx context.Context) error {
	evs, err := r.store.LiveEvents(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(evs))
	for _, e := range evs {
		live[e.ID] = true
		if _, ok := r.events[e.ID]; !ok {
			r.addEvent(e.ID)
		}
	}
	r.order = slices.DeleteFunc(r.order, func(id string) bool {
		ev := r.events[id]
		if live[id] || len(ev.held) > 0 || ev.inflight > 0 {
			return false
		}
		delete(r.events, id)
		return true
	})
	return nil
}

func (r *Relay) addEvent(id string) *eventRelay {
	ev := &eventRelay{id: id, held: make(map[string]*heldEntry)}
	r.events[id] = ev
	r.order = append(r.order, id)
	return ev
}
