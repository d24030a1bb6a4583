package lanes

// A Plan is the admission order that the current queue implies, if nobody
// joined or left: the draws the round-robin will make until every lane is
// empty, in a form that answers "where does the k-th of lane j stand" in
// O(lanes), whatever the queue's length.
//
// The order falls into phases: stretches in which the same lanes stay
// non-empty. Within a phase the draws repeat with a period of W (the
// total weight of its lanes), each round drawing w of every lane of
// weight w, and the state coming back to where it began. So a phase is m
// full rounds, where m is the most rounds after which every lane still
// has someone left, then a tail (a prefix of one round) that ends with the
// draw emptying some lane. The next phase starts from zeros (the set
// changed). There are at most as many phases as lanes, and building one
// takes one simulated round: O(lanes × W) for the round, so
// O(lanes² × MaxWeight × lanes) at most for the plan, however long the
// queue.
type Plan struct {
	phases []phase
}

type phase struct {
	// start is how many draws come before the phase.
	start int64
	// rounds is m, the number of full rounds; size is W.
	rounds, size int64
	weights      []int64
	// occ[j] are the offsets within a round, ascending, at which lane j is
	// drawn.
	occ [][]int64
	// tail is how many draws of the next round the phase makes; tailOf[j]
	// how many of them are lane j's.
	tail   int64
	tailOf []int64
}

// NewPlan returns the plan for lanes of these weights holding counts
// sessions each, with the round-robin in state st.
func NewPlan(weights, counts []int64, st State) *Plan {
	rem := left(append([]int64(nil), counts...))
	st = Normal(st, weights, rem)
	p := &Plan{}
	var start int64
	for set := NonEmpty(rem); set != 0; set = NonEmpty(rem) {
		if st.For != set {
			st = State{For: set, Current: make([]int64, len(weights))}
		}
		ph := phase{start: start, weights: weights, occ: make([][]int64, len(weights)), tailOf: make([]int64, len(weights))}
		ph.rounds = -1
		for i, w := range weights {
			if set.Has(i) {
				ph.size += w
				if m := (rem[i] - 1) / w; ph.rounds < 0 || m < ph.rounds {
					ph.rounds = m
				}
			}
		}
		// One round from the phase's state: the draws' offsets per lane.
		cur := append([]int64(nil), st.Current...)
		for t := range ph.size {
			j := step(cur, weights, set)
			ph.occ[j] = append(ph.occ[j], t)
		}
		for i, w := range weights {
			if set.Has(i) {
				rem[i] -= ph.rounds * w
			}
		}
		// The tail: draws of one more round until a lane empties.
		cur = append(cur[:0], st.Current...)
		for rem.all(set) {
			j := step(cur, weights, set)
			ph.tail++
			ph.tailOf[j]++
			rem[j]--
		}
		start += ph.rounds*ph.size + ph.tail
		p.phases = append(p.phases, ph)
		st.Current = cur
	}
	return p
}

type left []int64

// all reports whether every lane of set still has someone.
func (c left) all(set Set) bool {
	for i, n := range c {
		if set.Has(i) && n <= 0 {
			return false
		}
	}
	return true
}

// Position is the 1-based place in the admission order of lane j's
// session with k sessions of its lane ahead of it (k from 0); 0 if lane j
// has no such session.
func (p *Plan) Position(j int, k int64) int64 {
	for _, ph := range p.phases {
		if j >= len(ph.occ) || k < 0 {
			return 0
		}
		w := int64(len(ph.occ[j]))
		if w == 0 {
			continue // lane j is empty throughout this phase
		}
		if q := k / w; q < ph.rounds {
			return ph.start + q*ph.size + ph.occ[j][k%w] + 1
		}
		k -= ph.rounds * w
		if k < ph.tailOf[j] {
			return ph.start + ph.rounds*ph.size + ph.occ[j][k] + 1
		}
		k -= ph.tailOf[j]
	}
	return 0
}

// Length is how many draws the plan makes: the queue's length.
func (p *Plan) Length() int64 {
	if len(p.phases) == 0 {
		return 0
	}
	last := p.phases[len(p.phases)-1]
	return last.start + last.rounds*last.size + last.tail
}
