package queue

import (
	"errors"
	"slices"
	"strings"

	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// Priority lanes. An event may define lanes with weights (Event.Lanes; the
// arithmetic is package lanes). A session's lane comes only from a trusted
// source, the join token's lane claim or a service credential, and is fixed
// at its join: JoinParams.Lane names it, "" meaning the event's first lane
// (its default). Each lane is FIFO by ticket; admission draws from the
// non-empty lanes by the smooth weighted round-robin of package lanes, and
// a session's position is its exact place in the order that draw implies
// for the current queue (lanes.Plan).
//
// The rules every store keeps (Redis's scripts repeat them):
//   - an event without lanes is one unnamed lane; a session records the
//     lane it joined ("" in an event without lanes);
//   - a join naming a lane the event does not have is refused with an
//     InvalidArgumentError for "lane"; so is any lane in an event without
//     lanes;
//   - a PutEvent or UpdateEvent that changes the lanes is refused with
//     ErrLanesInUse while a lane it would drop has waiting sessions
//     (adding lanes to an event without them drops its unnamed lane;
//     removing every lane drops them all); a change the rule allows
//     resets the round-robin to zeros;
//   - presence-aware admission does not pass over absent sessions in an
//     event with lanes: AdmitPresent admits as Admit does there, so the
//     order the positions promise is the order kept;
//   - a fair start's placement deals the pre-queue's tickets in FairOrder
//     and every session keeps its lane, so each lane's share of the
//     pre-queue comes out in the shuffled order, ahead of its later joins.

// ErrLanesInUse: a settings change would drop a lane that has waiting
// sessions (FailedPrecondition).
var ErrLanesInUse = errors.New("a lane this change removes has waiting sessions")

// ErrLanesUnsupported: the store cannot run lanes (FailedPrecondition).
var ErrLanesUnsupported = errors.New("this store does not support priority lanes yet")

// HasLanes reports whether the event defines lanes.
func (e Event) HasLanes() bool { return len(e.Lanes) > 0 }

// LaneOf resolves a join's requested lane: the name the session records.
// "" is the default (the first lane, or none in an event without lanes).
func (e Event) LaneOf(requested string) (string, error) {
	if !e.HasLanes() {
		if requested != "" {
			return "", &InvalidArgumentError{Field: "lane", Reason: "the event has no lanes"}
		}
		return "", nil
	}
	i, ok := lanes.Index(e.Lanes, requested)
	if !ok {
		return "", &InvalidArgumentError{Field: "lane", Reason: "not a lane of the event"}
	}
	return e.Lanes[i].Name, nil
}

// LaneNames are the names of the event's lanes, in order; one unnamed lane
// for an event without lanes.
func (e Event) LaneNames() []string {
	if !e.HasLanes() {
		return []string{""}
	}
	out := make([]string, len(e.Lanes))
	for i, l := range e.Lanes {
		out[i] = l.Name
	}
	return out
}

// LanesChanged reports whether two lane lists differ.
func LanesChanged(a, b []lanes.Lane) bool { return !slices.Equal(a, b) }

// CheckLaneChange applies the rule on changing lanes: from stored to next
// is allowed unless a lane only stored has waiting sessions (waiting
// counts them by name, "" the unnamed lane).
func CheckLaneChange(stored, next Event, waiting func(lane string) int64) error {
	if !LanesChanged(stored.Lanes, next.Lanes) {
		return nil
	}
	keep := next.LaneNames()
	for _, name := range stored.LaneNames() {
		if !slices.Contains(keep, name) && waiting(name) > 0 {
			return ErrLanesInUse
		}
	}
	return nil
}

// LaneState is an event's lanes and the round-robin's state at one change.
type LaneState struct {
	Lanes []lanes.Lane
	RR    lanes.State
}

// Plan is the admission order the lanes' waiting counts imply.
func (l *LaneState) Plan(counts []int64) *lanes.Plan {
	return lanes.NewPlan(lanes.Weights(l.Lanes), counts, l.RR)
}

// validateLanes checks an event's lanes for the admin API.
func validateLanes(ls []lanes.Lane) error {
	if err := lanes.Validate(ls); err != nil {
		return &InvalidArgumentError{Field: "lanes", Reason: strings.TrimPrefix(err.Error(), lanes.ErrInvalid.Error()+": ")}
	}
	return nil
}
