// Package ticketset is an order-statistics set of queue tickets: it answers
// "how many waiting sessions arrived before this one" in O(log n), which is
// what turns a ticket into an exact queue position.
//
// Tickets are an event's arrival numbers 1, 2, 3, …: mostly inserted in
// increasing order and removed from anywhere, most often from the low end. The
// set keeps one presence bit per ticket of its live span (from its lowest
// member to its highest) in 64-bit words, and a Fenwick tree (binary indexed
// tree) of per-word member counts over those words. A rank is a Fenwick prefix
// sum plus one popcount. When the highest ticket outgrows the window the set
// first drops the dead words below its lowest member and only doubles the
// window when the live span still does not fit, so memory follows the live
// span (about 12 bytes per 64 tickets of it), not every ticket ever issued: a
// million consecutive members take under 200 KB.
//
// A Set is not safe for concurrent use; its owner serialises access.
package ticketset

import (
	"math/bits"
	"slices"
)

const (
	wordBits = 64
	// minWords keeps small sets from rebuilding on every few inserts.
	minWords = 16
)

// Set is an ordered set of uint64 tickets with O(log n) Insert, Remove and
// Rank. The zero value is not usable; call New. Not safe for concurrent use.
type Set struct {
	// base is the ticket of bit 0 of words[0]; always a multiple of 64.
	base uint64
	// words holds one presence bit per ticket from base; len is a power of two.
	words []uint64
	// tree is the 1-based Fenwick tree over per-word popcounts; len(words)+1.
	tree []int32
	n    int64
}

// New returns an empty set.
func New() *Set {
	s := &Set{}
	s.alloc(minWords)
	return s
}

func (s *Set) alloc(nw int) {
	s.words = make([]uint64, nw)
	s.tree = make([]int32, nw+1)
}

// Len is the number of members.
func (s *Set) Len() int64 { return s.n }

// locate maps t to its word and bit; ok is false outside the window.
func (s *Set) locate(t uint64) (w int, b uint, ok bool) {
	if t < s.base {
		return 0, 0, false
	}
	off := t - s.base
	if off/wordBits >= uint64(len(s.words)) {
		return 0, 0, false
	}
	return int(off / wordBits), uint(off % wordBits), true
}

// Contains reports whether t is a member.
func (s *Set) Contains(t uint64) bool {
	w, b, ok := s.locate(t)
	return ok && s.words[w]&(1<<b) != 0
}

// Insert adds t; it returns false when t was already a member.
func (s *Set) Insert(t uint64) bool {
	w, b, ok := s.locate(t)
	if !ok {
		s.makeRoom(t)
		w, b, _ = s.locate(t)
	}
	if s.words[w]&(1<<b) != 0 {
		return false
	}
	s.words[w] |= 1 << b
	s.add(w, 1)
	s.n++
	return true
}

// Remove deletes t; it returns false when t was not a member.
func (s *Set) Remove(t uint64) bool {
	w, b, ok := s.locate(t)
	if !ok || s.words[w]&(1<<b) == 0 {
		return false
	}
	s.words[w] &^= 1 << b
	s.add(w, -1)
	s.n--
	return true
}

// Rank is how many members are less than t, whether or not t is a member. A
// member's 1-based queue position is Rank(t)+1.
func (s *Set) Rank(t uint64) int64 {
	if t <= s.base || s.n == 0 {
		return 0
	}
	off := t - s.base
	w := off / wordBits
	if w >= uint64(len(s.words)) {
		return s.n
	}
	r := s.prefix(int(w))
	r += int64(bits.OnesCount64(s.words[w] & (1<<(off%wordBits) - 1)))
	return r
}

// Select returns the member of rank k (0-based): Select(0) is the minimum.
// ok is false when k is out of range.
func (s *Set) Select(k int64) (uint64, bool) {
	if k < 0 || k >= s.n {
		return 0, false
	}
	// Fenwick descent: find the last word whose prefix count is still <= k.
	pos, rem := 0, int32(k)
	for step := len(s.words); step > 0; step >>= 1 {
		if next := pos + step; next <= len(s.words) && s.tree[next] <= rem {
			pos = next
			rem -= s.tree[next]
		}
	}
	return s.base + uint64(pos)*wordBits + uint64(selectInWord(s.words[pos], int(rem))), true
}

// Min returns the lowest member; ok is false when the set is empty.
func (s *Set) Min() (uint64, bool) { return s.Select(0) }

// Max returns the highest member; ok is false when the set is empty.
func (s *Set) Max() (uint64, bool) { return s.Select(s.n - 1) }

// Ascend calls fn with each member in increasing order until fn returns false.
// fn must not modify the set.
func (s *Set) Ascend(fn func(t uint64) bool) {
	if s.n == 0 {
		return
	}
	lo, _ := s.Min()
	hi, _ := s.Max()
	first, _, _ := s.locate(lo)
	last, _, _ := s.locate(hi)
	for w := first; w <= last; w++ {
		for x := s.words[w]; x != 0; x &= x - 1 {
			if !fn(s.base + uint64(w)*wordBits + uint64(bits.TrailingZeros64(x))) {
				return
			}
		}
	}
}

// Reset replaces the contents with sorted, an ascending list of tickets, in
// O(len(sorted) + its span/64). Duplicates are ignored; an unsorted list is
// sorted first (on a copy) rather than trusted.
func (s *Set) Reset(sorted []uint64) {
	if !slices.IsSorted(sorted) {
		sorted = slices.Clone(sorted)
		slices.Sort(sorted)
	}
	s.n = 0
	if len(sorted) == 0 {
		s.base = 0
		if len(s.words) > minWords {
			s.alloc(minWords)
		} else {
			clear(s.words)
			clear(s.tree)
		}
		return
	}
	s.base = alignDown(sorted[0])
	need := wordsFor(sorted[len(sorted)-1] - s.base)
	nw := sizeFor(need)
	if nw == len(s.words) {
		clear(s.words)
	} else {
		s.alloc(nw)
	}
	for i, t := range sorted {
		if i > 0 && t == sorted[i-1] {
			continue
		}
		off := t - s.base
		s.words[off/wordBits] |= 1 << (off % wordBits)
		s.n++
	}
	s.build()
}

// makeRoom moves or grows the window so that t, which lies outside it, fits
// along with every member.
func (s *Set) makeRoom(t uint64) {
	if s.n == 0 {
		// Every bit and count is zero, so the window can simply move.
		s.base = alignDown(t)
		return
	}
	lo, _ := s.Min()
	hi, _ := s.Max()
	lo, hi = min(lo, t), max(hi, t)
	newBase := alignDown(lo)
	need := wordsFor(hi - newBase)
	nw := len(s.words)
	if need*4 > nw*3 || need*4 < nw {
		// Grow when the live span would leave under a quarter of the window
		// free (so a rebuild is paid for by many appends), shrink when it
		// fell far below it (so memory follows the live span).
		nw = sizeFor(need)
	}
	// shift is how many words every live word moves: negative when the
	// window moves up past the dead prefix, positive when t is below base.
	shift := int(int64(s.base/wordBits) - int64(newBase/wordBits))
	if nw == len(s.words) {
		// In place; copy is a memmove, so the overlap is safe. Words shifted
		// out are dead: the live span fits the window by construction.
		if shift < 0 {
			copy(s.words, s.words[-shift:])
			clear(s.words[len(s.words)+shift:])
		} else {
			copy(s.words[shift:], s.words)
			clear(s.words[:shift])
		}
	} else {
		old := s.words
		s.alloc(nw)
		for w, x := range old {
			if x != 0 {
				s.words[w+shift] = x
			}
		}
	}
	s.base = newBase
	s.build()
}

// build recomputes the Fenwick tree from the words in O(len(words)).
func (s *Set) build() {
	for i, x := range s.words {
		s.tree[i+1] = int32(bits.OnesCount64(x))
	}
	for i := 1; i < len(s.tree); i++ {
		if j := i + i&-i; j < len(s.tree) {
			s.tree[j] += s.tree[i]
		}
	}
}

// add adds d to word w's count.
func (s *Set) add(w int, d int32) {
	for i := w + 1; i < len(s.tree); i += i & -i {
		s.tree[i] += d
	}
}

// prefix is the number of members in words [0, w).
func (s *Set) prefix(w int) int64 {
	var r int64
	for i := w; i > 0; i &= i - 1 {
		r += int64(s.tree[i])
	}
	return r
}

// selectInWord returns the bit index of x's k-th (0-based) set bit.
func selectInWord(x uint64, k int) int {
	for ; k > 0; k-- {
		x &= x - 1
	}
	return bits.TrailingZeros64(x)
}

func alignDown(t uint64) uint64 { return t &^ (wordBits - 1) }

// wordsFor is how many words cover offsets 0..off.
func wordsFor(off uint64) int { return int(off/wordBits) + 1 }

// sizeFor is the window size for need words: a power of two, with room to
// spare so that steady appends do not rebuild often.
func sizeFor(need int) int {
	nw := minWords
	for nw < need+need/2 {
		nw *= 2
	}
	return nw
}
