package memstore

import (
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

// This file holds priority lanes (queue/lane.go): each named lane's
// waiting tickets, the round-robin's state, and the plan positions are
// read from.

// laneQueues is an event's lanes as the store keeps them. A record names
// its lane by an index into names, so records stay pointer-free; index 0
// is the unnamed lane of an event without lanes, whose sessions are only
// in the event's waiting set (the lane rule keeps it empty while the event
// has lanes).
type laneQueues struct {
	names []string
	sets  []*ticketset.Set
	rr    lanes.State
	// plan is the admission order at planSeq; stale once seq moves on or
	// the lanes change.
	plan    *lanes.Plan
	planSeq uint64
}

// laneIndex returns name's index, adding it; 0 for "".
func (e *event) laneIndex(name string) uint8 {
	q := &e.lanes
	if name == "" {
		return 0 // an event without lanes keeps no names
	}
	if len(q.names) == 0 {
		q.names, q.sets = []string{""}, []*ticketset.Set{nil}
	}
	for i, n := range q.names {
		if n == name {
			return uint8(i)
		}
	}
	q.names = append(q.names, name)
	q.sets = append(q.sets, ticketset.New())
	return uint8(len(q.names) - 1)
}

// laneName is the name of a record's lane.
func (e *event) laneName(r *rec) string {
	if int(r.lane) >= len(e.lanes.names) {
		return ""
	}
	return e.lanes.names[r.lane]
}

// laneSet is the waiting set of lane index i; nil for the unnamed lane.
func (e *event) laneSet(i uint8) *ticketset.Set {
	if i == 0 || int(i) >= len(e.lanes.sets) {
		return nil
	}
	return e.lanes.sets[i]
}

// enqueueLane and dequeueLane keep r's lane's waiting set with e.waiting.
func (e *event) enqueueLane(r *rec) {
	if set := e.laneSet(r.lane); set != nil {
		set.Insert(r.ticket)
	}
}

func (e *event) dequeueLane(r *rec) {
	if set := e.laneSet(r.lane); set != nil {
		set.Remove(r.ticket)
	}
}

// waitingIn counts the waiting sessions of the lane named name.
func (e *event) waitingIn(name string) int64 {
	if name == "" {
		n := e.waiting.Len()
		for _, set := range e.lanes.sets[min(1, len(e.lanes.sets)):] {
			n -= set.Len()
		}
		return n
	}
	for i, n := range e.lanes.names {
		if n == name {
			return e.lanes.sets[i].Len()
		}
	}
	return 0
}

// setLanes applies a settings change's lanes: refused while a dropped lane
// has waiting sessions; a change resets the round-robin.
func (e *event) checkLanes(next queue.Event) error {
	return queue.CheckLaneChange(e.cfg, next, e.waitingIn)
}

// lanesChanged is called after e.cfg's lanes were replaced by old → new.
func (e *event) lanesChanged(old []lanes.Lane) {
	if queue.LanesChanged(old, e.cfg.Lanes) {
		e.lanes.rr, e.lanes.plan = lanes.State{}, nil
	}
}

// laneSets returns the configured lanes' weights, waiting counts and sets.
func (e *event) laneSets() (weights, counts []int64, sets []*ticketset.Set) {
	weights = lanes.Weights(e.cfg.Lanes)
	counts = make([]int64, len(e.cfg.Lanes))
	sets = make([]*ticketset.Set, len(e.cfg.Lanes))
	for i, l := range e.cfg.Lanes {
		sets[i] = e.laneSet(e.laneIndex(l.Name))
		counts[i] = sets[i].Len()
	}
	return weights, counts, sets
}

// nextHead is the ticket admission takes next, drawing its lane when the
// event has lanes; ok is false when nobody waits.
func (e *event) nextHead() (uint64, bool) {
	if !e.cfg.HasLanes() {
		return e.waiting.Min()
	}
	w, n, sets := e.laneSets()
	j := lanes.Next(&e.lanes.rr, w, n)
	if j < 0 {
		return 0, false
	}
	return sets[j].Min()
}

// drew advances the round-robin as a draw of ticket's lane would: a
// replayed admission (ApplyAdmission) keeps the state the first run left.
func (e *event) drew() {
	if e.cfg.HasLanes() {
		w, n, _ := e.laneSets()
		lanes.Next(&e.lanes.rr, w, n)
	}
}

// lanePosition is r's 1-based place in the admission order; r is queued
// in an event with lanes.
func (e *event) lanePosition(r *rec) int64 {
	set := e.laneSet(r.lane)
	if set == nil {
		return e.waiting.Rank(r.ticket) + 1
	}
	q := &e.lanes
	if q.plan == nil || q.planSeq != e.seq {
		w, n, _ := e.laneSets()
		q.plan, q.planSeq = lanes.NewPlan(w, n, q.rr), e.seq
	}
	for i, l := range e.cfg.Lanes {
		if l.Name == e.laneName(r) {
			return q.plan.Position(i, set.Rank(r.ticket))
		}
	}
	return e.waiting.Rank(r.ticket) + 1
}

// hasLanes reports whether the event has lanes.
func (s *Store) hasLanes(eventID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	return e != nil && e.cfg.HasLanes()
}

// laneState is what changes and snapshots carry of e's lanes; nil without.
func (e *event) laneState() *queue.LaneState {
	if !e.cfg.HasLanes() {
		return nil
	}
	return &queue.LaneState{Lanes: e.cfg.Lanes, RR: e.lanes.rr.Clone()}
}
