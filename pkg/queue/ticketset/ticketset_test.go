package ticketset

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the obviously correct reference: a sorted slice.
type model []uint64

func (m *model) insert(t uint64) bool {
	i, found := slices.BinarySearch(*m, t)
	if found {
		return false
	}
	*m = slices.Insert(*m, i, t)
	return true
}

func (m *model) remove(t uint64) bool {
	i, found := slices.BinarySearch(*m, t)
	if !found {
		return false
	}
	*m = slices.Delete(*m, i, i+1)
	return true
}

func (m model) rank(t uint64) int64 {
	i, _ := slices.BinarySearch(m, t)
	return int64(i)
}

func TestDifferential(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7919))
		s := New()
		var m model
		next := uint64(1)
		// probe picks a ticket near the interesting places: members,
		// neighbours, the ends and far outside.
		probe := func() uint64 {
			switch r.IntN(6) {
			case 0:
				if len(m) > 0 {
					return m[r.IntN(len(m))]
				}
			case 1:
				if len(m) > 0 {
					return m[r.IntN(len(m))] + 1
				}
			case 2:
				return r.Uint64N(next + 2)
			case 3:
				return 0
			case 4:
				return next + r.Uint64N(1<<20)
			}
			return r.Uint64()
		}
		for op := range 10000 {
			switch k := r.IntN(100); {
			case k < 40: // append the next ticket, sometimes after a big gap
				switch r.IntN(100) {
				case 0:
					next += r.Uint64N(1 << 18)
				case 1:
					next += r.Uint64N(5000)
				}
				if got, want := s.Insert(next), m.insert(next); got != want {
					t.Fatalf("seed %d op %d: Insert(%d) = %v, want %v", seed, op, next, got, want)
				}
				next++
			case k < 45: // insert anywhere, including below every member
				v := probe()
				if v > next+(1<<22) { // keep the span testable
					v = next + v%(1<<22)
				}
				if got, want := s.Insert(v), m.insert(v); got != want {
					t.Fatalf("seed %d op %d: Insert(%d) = %v, want %v", seed, op, v, got, want)
				}
			case k < 65: // remove the head
				if len(m) == 0 {
					continue
				}
				v := m[0]
				m.remove(v)
				if !s.Remove(v) {
					t.Fatalf("seed %d op %d: Remove(head %d) = false", seed, op, v)
				}
			case k < 80: // remove anything, member or not
				v := probe()
				if got, want := s.Remove(v), m.remove(v); got != want {
					t.Fatalf("seed %d op %d: Remove(%d) = %v, want %v", seed, op, v, got, want)
				}
			case k < 99:
				v := probe()
				if got, want := s.Rank(v), m.rank(v); got != want {
					t.Fatalf("seed %d op %d: Rank(%d) = %d, want %d", seed, op, v, got, want)
				}
				_, in := slices.BinarySearch(m, v)
				if got := s.Contains(v); got != in {
					t.Fatalf("seed %d op %d: Contains(%d) = %v, want %v", seed, op, v, got, in)
				}
			default: // replace everything
				var l []uint64
				v := r.Uint64N(1 << 24) // spans stay what a queue can reach
				for range r.IntN(300) {
					v += 1 + r.Uint64N(1+r.Uint64N(3000))
					l = append(l, v)
				}
				if r.IntN(4) == 0 && len(l) > 1 {
					l = append(l, l[0]) // a duplicate, out of order
				}
				s.Reset(l)
				m = slices.Clone(l)
				slices.Sort(m)
				m = slices.Compact(m)
				if len(m) > 0 {
					next = m[len(m)-1] + 1
				}
			}
			check(t, s, m, seed, op, op%500 == 0)
		}
	}
}

// check compares the cheap observations every step and the whole contents
// when full is set.
func check(t *testing.T, s *Set, m model, seed uint64, op int, full bool) {
	t.Helper()
	if s.Len() != int64(len(m)) {
		t.Fatalf("seed %d op %d: Len = %d, want %d", seed, op, s.Len(), len(m))
	}
	lo, okLo := s.Min()
	hi, okHi := s.Max()
	if okLo != (len(m) > 0) || okHi != (len(m) > 0) {
		t.Fatalf("seed %d op %d: Min/Max ok = %v/%v with %d members", seed, op, okLo, okHi, len(m))
	}
	if len(m) > 0 && (lo != m[0] || hi != m[len(m)-1]) {
		t.Fatalf("seed %d op %d: Min/Max = %d/%d, want %d/%d", seed, op, lo, hi, m[0], m[len(m)-1])
	}
	if !full {
		return
	}
	var got []uint64
	s.Ascend(func(v uint64) bool { got = append(got, v); return true })
	if !slices.Equal(got, m) {
		t.Fatalf("seed %d op %d: Ascend = %v, want %v", seed, op, got, m)
	}
	for i, v := range m {
		if r := s.Rank(v); r != int64(i) {
			t.Fatalf("seed %d op %d: Rank(member %d) = %d, want %d", seed, op, v, r, i)
		}
		if sel, ok := s.Select(int64(i)); !ok || sel != v {
			t.Fatalf("seed %d op %d: Select(%d) = %d, %v, want %d", seed, op, i, sel, ok, v)
		}
	}
	if _, ok := s.Select(int64(len(m))); ok {
		t.Fatalf("seed %d op %d: Select past the end succeeded", seed, op)
	}
}

func TestAscendStops(t *testing.T) {
	s := New()
	for v := uint64(1); v <= 200; v++ {
		s.Insert(v * 3)
	}
	var got []uint64
	s.Ascend(func(v uint64) bool {
		got = append(got, v)
		return len(got) < 5
	})
	if !slices.Equal(got, []uint64{3, 6, 9, 12, 15}) {
		t.Fatalf("Ascend = %v", got)
	}
}

func TestEdges(t *testing.T) {
	s := New()
	if _, ok := s.Min(); ok {
		t.Fatal("Min of an empty set")
	}
	if r := s.Rank(1 << 63); r != 0 {
		t.Fatalf("Rank in an empty set = %d", r)
	}
	for _, v := range []uint64{0, 1 << 63, 1<<64 - 1} {
		s.Reset(nil)
		if !s.Insert(v) || s.Insert(v) || !s.Contains(v) || s.Rank(v) != 0 || s.Rank(v+1) != 1 && v != 1<<64-1 {
			t.Fatalf("single member %d misbehaves", v)
		}
		if !s.Remove(v) || s.Remove(v) || s.Len() != 0 {
			t.Fatalf("removing %d misbehaves", v)
		}
	}
}

// TestMemoryFollowsLiveSpan runs a FIFO queue through ten million tickets
// with about a thousand waiting: the window must stay near the live span.
func TestMemoryFollowsLiveSpan(t *testing.T) {
	s := New()
	const live = 1000
	for v := uint64(1); v <= 10_000_000; v++ {
		s.Insert(v)
		if v > live {
			s.Remove(v - live)
		}
	}
	if s.Len() != live {
		t.Fatalf("Len = %d", s.Len())
	}
	if got := len(s.words); got > 4*(live/wordBits+1)+minWords {
		t.Fatalf("window is %d words for a live span of %d tickets", got, live)
	}
	// Drain most of it, then append: the window shrinks back.
	s.Reset(nil)
	for v := uint64(1); v <= 1_000_000; v++ {
		s.Insert(v)
	}
	for v := uint64(1); v <= 999_990; v++ {
		s.Remove(v)
	}
	s.Insert(2_000_000)
	if got := len(s.words); got > 1<<16 {
		t.Fatalf("window is %d words after draining", got)
	}
	if s.Rank(2_000_000) != 10 {
		t.Fatalf("Rank after shrinking = %d", s.Rank(2_000_000))
	}
}

func TestMillionMembersIsSmall(t *testing.T) {
	s := New()
	for v := uint64(1); v <= 1_000_000; v++ {
		s.Insert(v)
	}
	bytes := len(s.words)*8 + len(s.tree)*4
	t.Logf("1,000,000 consecutive members: %d words, %d bytes", len(s.words), bytes)
	if bytes > 1<<20 {
		t.Fatalf("1,000,000 members take %d bytes", bytes)
	}
	if r := s.Rank(777_777); r != 777_776 {
		t.Fatalf("Rank = %d", r)
	}
}

func filled(n int) *Set {
	s := New()
	for v := uint64(1); v <= uint64(n); v++ {
		s.Insert(v)
	}
	return s
}

var sink int64

func BenchmarkRank(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"1M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			s := filled(size.n)
			r := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			for b.Loop() {
				sink += s.Rank(1 + r.Uint64N(uint64(size.n)))
			}
		})
	}
}

// BenchmarkInsertRemove is a queue in steady state: each op appends the next
// ticket and removes one waiting ticket, the head three times in four.
func BenchmarkInsertRemove(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"1M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			s := filled(size.n)
			r := rand.New(rand.NewPCG(3, 4))
			next := uint64(size.n) + 1
			b.ResetTimer()
			for b.Loop() {
				s.Insert(next)
				next++
				if r.IntN(4) == 0 {
					// Somebody in the middle leaves; a removal of a
					// non-member is as costly, so no need to retry.
					lo, _ := s.Min()
					s.Remove(lo + r.Uint64N(next-lo))
				} else {
					lo, _ := s.Min()
					s.Remove(lo)
				}
			}
		})
	}
}
