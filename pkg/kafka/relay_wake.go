package kafka

import "time"

// Wake makes the relay poll every event's outbox now rather than at its idle
// interval. It never blocks.
func (r *Relay) Wake() {
	r.wakeMu.Lock()
	r.wakeAll = true
	r.wakeMu.Unlock()
	r.signalWake()
}

// WakeEvent makes the relay poll one event's outbox now, registering the
// event if it is new. It never blocks; calling it after each change shortens
// the delay before the change reaches Kafka, and costs the other events
// nothing.
func (r *Relay) WakeEvent(eventID string) {
	r.wakeMu.Lock()
	if r.woken == nil {
		r.woken = make(map[string]bool)
	}
	r.woken[eventID] = true
	r.wakeMu.Unlock()
	r.signalWake()
}

func (r *Relay) signalWake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// takeWakes applies the wakes that arrived: the events named poll now (new
// ones are registered), or all of them after Wake.
func (r *Relay) takeWakes(now time.Time) {
	r.wakeMu.Lock()
	woken, all := r.woken, r.wakeAll
	r.woken, r.wakeAll = nil, false
	r.wakeMu.Unlock()
	poll := func(ev *eventRelay) {
		if ev.backoff == 0 {
			ev.idle = 0
			ev.nextPoll = now
		}
	}
	if all {
		for _, ev := range r.events {
			poll(ev)
		}
	}
	for id := range woken {
		ev, ok := r.events[id]
		if !ok {
			ev = r.addEvent(id)
		}
		poll(ev)
	}
}
