// Package lanes is the arithmetic of priority lanes: which lane admission
// draws from next (a smooth weighted round-robin), and where a session of
// a lane stands in the admission order the current queue implies. It is
// plain data with no clock and no store, so every store (and Redis's
// scripts, which repeat it in Lua) follows one definition.
//
// The rule. An event's lanes have integer weights. Each lane is FIFO.
// Admission draws one session at a time from the non-empty lanes by the
// smooth weighted round-robin of nginx: every non-empty lane's current
// value grows by its weight, the lane with the largest current value (the
// first lane on a tie) is drawn, and its current value drops by the total
// weight of the non-empty lanes. The current values belong to the set of
// non-empty lanes they were computed with: when a draw finds a different
// set (a lane emptied or filled since), every current value starts again
// from zero. So over any stretch in which the same lanes stay non-empty,
// each full round of W draws (W the total weight) draws exactly w of every
// lane of weight w.
package lanes

import (
	"errors"
	"fmt"
	"regexp"
)

// Limits on an event's lanes, so a round (the sum of weights) stays short
// and a position is cheap to compute.
const (
	MaxLanes  = 8
	MaxWeight = 100
)

// Lane is one priority lane of an event.
type Lane struct {
	Name   string
	Weight int64
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ErrInvalid is wrapped by Validate's errors.
var ErrInvalid = errors.New("invalid lanes")

// Validate checks an event's lanes: none (no lanes) or 1..MaxLanes lanes
// with distinct names of lower-case letters, digits, '-' and '_' (1-32,
// starting with a letter) and weights 1..MaxWeight.
func Validate(ls []Lane) error {
	if len(ls) > MaxLanes {
		return fmt.Errorf("%w: at most %d lanes", ErrInvalid, MaxLanes)
	}
	seen := map[string]bool{}
	for _, l := range ls {
		if !nameRE.MatchString(l.Name) {
			return fmt.Errorf("%w: lane name %q: 1-32 of a-z, 0-9, '-', '_', starting with a letter", ErrInvalid, l.Name)
		}
		if seen[l.Name] {
			return fmt.Errorf("%w: lane %q named twice", ErrInvalid, l.Name)
		}
		seen[l.Name] = true
		if l.Weight < 1 || l.Weight > MaxWeight {
			return fmt.Errorf("%w: lane %q: weight must be 1..%d", ErrInvalid, l.Name, MaxWeight)
		}
	}
	return nil
}

// Index returns the index of the lane named name; "" names the default
// lane, the first. ok is false for an unknown name, or when there are no
// lanes.
func Index(ls []Lane, name string) (int, bool) {
	if len(ls) == 0 {
		return 0, false
	}
	if name == "" {
		return 0, true
	}
	for i, l := range ls {
		if l.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Weights returns the lanes' weights, in order.
func Weights(ls []Lane) []int64 {
	w := make([]int64, len(ls))
	for i, l := range ls {
		w[i] = l.Weight
	}
	return w
}

// Set is a set of lanes by index, one bit each.
type Set uint32

// NonEmpty is the set of lanes whose count is above zero.
func NonEmpty(counts []int64) Set {
	var s Set
	for i, n := range counts {
		if n > 0 {
			s |= 1 << i
		}
	}
	return s
}

// Has reports whether lane i is in s.
func (s Set) Has(i int) bool { return s&(1<<i) != 0 }

// State is the round-robin's memory: the current values, which belong to
// the set of non-empty lanes For.
type State struct {
	For     Set
	Current []int64
}

// Clone returns a copy of st that shares nothing with it.
func (st State) Clone() State {
	return State{For: st.For, Current: append([]int64(nil), st.Current...)}
}

// Normal returns st as the draw at counts starts from: its own values if
// they belong to the current set of non-empty lanes, zeros otherwise.
func Normal(st State, weights, counts []int64) State {
	set := NonEmpty(counts)
	if st.For == set && len(st.Current) == len(weights) {
		return st.Clone()
	}
	return State{For: set, Current: make([]int64, len(weights))}
}

// Next draws the next lane among the non-empty lanes of counts, updating
// st; -1 when every lane is empty (st is then left as it was).
func Next(st *State, weights, counts []int64) int {
	set := NonEmpty(counts)
	if set == 0 {
		return -1
	}
	if st.For != set || len(st.Current) != len(weights) {
		*st = State{For: set, Current: make([]int64, len(weights))}
	}
	return step(st.Current, weights, set)
}

// step is one draw among the lanes of set.
func step(cur, weights []int64, set Set) int {
	var total int64
	best := -1
	for i, w := range weights {
		if !set.Has(i) {
			continue
		}
		total += w
		cur[i] += w
		if best < 0 || cur[i] > cur[best] {
			best = i
		}
	}
	cur[best] -= total
	return best
}
