package lanes

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNextSmoothOrder(t *testing.T) {
	// nginx's example: weights 5, 1, 1 give a a b a c a a.
	var st State
	w := []int64{5, 1, 1}
	n := []int64{100, 100, 100}
	var got []int
	for range 7 {
		got = append(got, Next(&st, w, n))
	}
	if want := []int{0, 0, 1, 0, 2, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("draws = %v, want %v", got, want)
	}
	if !slices.Equal(st.Current, []int64{0, 0, 0}) {
		t.Errorf("after a round, current = %v, want zeros", st.Current)
	}
}

func TestNextResetsWhenTheSetChanges(t *testing.T) {
	w := []int64{3, 1}
	var st State
	Next(&st, w, []int64{5, 5}) // current 6-4=... any non-zero
	if j := Next(&st, w, []int64{0, 5}); j != 1 || st.For != 2 || st.Current[0] != 0 {
		t.Fatalf("draw with lane 0 empty = %d, state %+v", j, st)
	}
	if j := Next(&st, w, []int64{0, 0}); j != -1 {
		t.Fatalf("draw with every lane empty = %d, want -1", j)
	}
}

func TestWeightsOverManyDraws(t *testing.T) {
	w := []int64{3, 1, 2}
	n := []int64{1 << 40, 1 << 40, 1 << 40}
	var st State
	got := make([]int64, 3)
	for range 6000 {
		got[Next(&st, w, n)]++
	}
	if !slices.Equal(got, []int64{3000, 1000, 2000}) {
		t.Fatalf("draws per lane = %v", got)
	}
}

// simulate is the admission order by brute force: for each lane, the
// 1-based places of its sessions in order.
func simulate(weights, counts []int64, st State) [][]int64 {
	rem := slices.Clone(counts)
	st = st.Clone()
	out := make([][]int64, len(weights))
	for pos := int64(1); ; pos++ {
		j := Next(&st, weights, rem)
		if j < 0 {
			return out
		}
		rem[j]--
		out[j] = append(out[j], pos)
	}
}

func TestPlanMatchesSimulation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for c := range 3000 {
		nl := 1 + r.IntN(4)
		w := make([]int64, nl)
		n := make([]int64, nl)
		for i := range nl {
			w[i] = 1 + r.Int64N(7)
			if r.IntN(4) > 0 {
				n[i] = r.Int64N(40)
			}
		}
		// A state reached by draws, sometimes for another set of lanes.
		var st State
		big := slices.Clone(n)
		if r.IntN(3) == 0 {
			big[r.IntN(nl)] += 5
		}
		for range r.IntN(12) {
			Next(&st, w, big)
		}
		want := simulate(w, n, st)
		p := NewPlan(w, n, st)
		var total int64
		for j := range nl {
			total += n[j]
			for k := range n[j] {
				if got := p.Position(j, k); got != want[j][k] {
					t.Fatalf("case %d: weights %v counts %v state %+v: lane %d #%d at %d, want %d", c, w, n, st, j, k, got, want[j][k])
				}
			}
			if got := p.Position(j, n[j]); got != 0 {
				t.Fatalf("case %d: lane %d #%d (beyond it) at %d, want 0", c, j, n[j], got)
			}
		}
		if p.Length() != total {
			t.Fatalf("case %d: plan length %d, want %d", c, p.Length(), total)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		ls []Lane
		ok bool
	}{
		{nil, true},
		{[]Lane{{"vip", 3}, {"general", 1}}, true},
		{[]Lane{{"Vip", 3}}, false},
		{[]Lane{{"", 3}}, false},
		{[]Lane{{"vip", 0}}, false},
		{[]Lane{{"vip", MaxWeight + 1}}, false},
		{[]Lane{{"vip", 1}, {"vip", 2}}, false},
		{make([]Lane, MaxLanes+1), false},
	} {
		if err := Validate(c.ls); (err == nil) != c.ok {
			t.Errorf("Validate(%v) = %v", c.ls, err)
		}
	}
}

func BenchmarkPlanWorstCase(b *testing.B) {
	w := make([]int64, MaxLanes)
	n := make([]int64, MaxLanes)
	for i := range w {
		w[i], n[i] = MaxWeight-int64(i), 1_000_000
	}
	for b.Loop() {
		NewPlan(w, n, State{})
	}
}

func BenchmarkPosition(b *testing.B) {
	w := []int64{3, 2, 1}
	p := NewPlan(w, []int64{1000, 100000, 5000}, State{})
	for b.Loop() {
		p.Position(1, 77777)
	}
}

func BenchmarkPlanTwoLanes(b *testing.B) {
	w := []int64{3, 1}
	n := []int64{20_000, 80_000}
	for b.Loop() {
		NewPlan(w, n, State{})
	}
}
