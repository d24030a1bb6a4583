package fanout

import (
	"slices"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

// Priority lanes in memory. Every change of an event with lanes carries
// its lanes and round-robin after the change (queue.Change.Lanes) and the
// lane of each session it names, and a snapshot the lane of each ticket, so
// the view keeps one ticket set per lane beside the event's, and computes a
// position as the store does: the plan of the admission order (one per
// change, O(lanes² × weight), whatever the queue's length), then, per
// stream, the rank in its lane (O(log n)) and the plan's answer (O(lanes)).
//
// A change of the lanes alone is not on the feed: the view's periodic read
// of the event (checkLanes) finds it and resynchronises, so open streams
// show it within the resync period even in a paused event (a session read
// shows it at once). A placement
// deals the pre-queue's tickets again across lanes without naming them, so
// in an event with lanes it asks for a resync.

// laneView is the lanes part of a state; nil for an event without lanes.
type laneView struct {
	ls   queue.LaneState
	sets map[string]*ticketset.Set
	plan *lanes.Plan
	// planSeq is the state's seq the plan is for.
	planSeq uint64
}

// laneApply applies one change's lanes. Called after the change's tickets
// were applied to the event's set.
func (s *state) laneApply(c queue.Change) {
	if c.Lanes == nil {
		s.lanes = nil
		return
	}
	if s.lanes == nil {
		if s.tickets.Len() > int64(len(c.Sessions)) {
			// Lanes appeared on an event with waiting sessions this view
			// cannot place in them.
			s.found(false, "Lanes changed; resynchronising", "seq", c.Seq)
			return
		}
		s.lanes = &laneView{sets: map[string]*ticketset.Set{}}
	}
	s.lanes.ls = *c.Lanes
	s.lanes.plan = nil
	for _, cs := range c.Sessions {
		set := s.lanes.set(cs.Lane)
		if cs.Status == queue.StatusQueued {
			set.Insert(cs.Ticket)
		} else {
			set.Remove(cs.Ticket)
		}
	}
	if c.Kind == queue.ChangePlaced {
		s.found(false, "Pre-queue placed in an event with lanes; resynchronising", "seq", c.Seq)
	}
}

// checkLanes compares the event's lanes, read at the store's sequence
// readSeq, with memory's, and resynchronises when they differ: the lanes
// were changed alone (reweighted, reordered, added), which moves positions
// without a change on the feed. Only a read at memory's own sequence is
// compared: one ahead of it may show lanes whose changes are in flight.
func (s *state) checkLanes(ls []lanes.Lane, readSeq uint64) {
	if !s.synced || s.needResync || readSeq != s.seq {
		return
	}
	var have []lanes.Lane
	if s.lanes != nil {
		have = s.lanes.ls.Lanes
	}
	if !slices.Equal(have, ls) {
		s.found(false, "Lanes changed; resynchronising", "seq", s.seq)
	}
}

// laneReset rebuilds the lanes from a snapshot.
func (s *state) laneReset(snap queue.Snapshot) {
	if snap.Lanes == nil {
		s.lanes = nil
		return
	}
	s.lanes = &laneView{ls: *snap.Lanes, sets: map[string]*ticketset.Set{}}
	by := map[string][]uint64{}
	for i, t := range snap.Tickets {
		if i < len(snap.TicketLanes) {
			by[snap.TicketLanes[i]] = append(by[snap.TicketLanes[i]], t)
		}
	}
	for name, ts := range by {
		s.lanes.set(name).Reset(ts)
	}
}

func (l *laneView) set(name string) *ticketset.Set {
	set := l.sets[name]
	if set == nil {
		set = ticketset.New()
		l.sets[name] = set
	}
	return set
}

// lanePosition is a waiting ticket's place in lane's admission order; ok
// is false when the ticket is not waiting in that lane.
func (s *state) lanePosition(ticket uint64, lane string) (int64, bool) {
	l := s.lanes
	set := l.sets[lane]
	j := slices.IndexFunc(l.ls.Lanes, func(x lanes.Lane) bool { return x.Name == lane })
	if set == nil || j < 0 || !set.Contains(ticket) {
		return 0, false
	}
	if l.plan == nil || l.planSeq != s.seq {
		counts := make([]int64, len(l.ls.Lanes))
		for i, x := range l.ls.Lanes {
			if set := l.sets[x.Name]; set != nil {
				counts[i] = set.Len()
			}
		}
		l.plan, l.planSeq = l.ls.Plan(counts), s.seq
	}
	return l.plan.Position(j, set.Rank(ticket)), true
}

// movedBack marks a state whose position is further back than the one the
// stream last sent (only lanes move a waiting session back); a pre-queue's
// hidden position, a bound, never counts.
func (w *Watcher) movedBack(v *queue.View) {
	if v.Session.Status != queue.StatusQueued || v.Position <= 0 {
		w.sentPos = 0
		return
	}
	hidden := v.FairStart != nil && v.FairStart.PlacedAt.IsZero()
	v.MovedBack = !hidden && w.sentPos > 0 && v.Position > w.sentPos
	w.sentPos = v.Position
}
