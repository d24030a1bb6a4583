package queuetest

import (
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// The fair start's rules (queue.FairStart): the pre-queue's placement is a
// permutation of its own tickets, reproducible from the revealed seed, and
// everyone who joins later queues behind it, first come first served.

// fairEvent creates an event whose sale starts an hour after epoch, and
// returns it as stored and the sale's start.
func fairEvent(t *testing.T, st queue.Store, base time.Time) (queue.Event, time.Time) {
	t.Helper()
	e := defaultEvent(newEventID())
	start := base.Add(time.Hour)
	e.FairStart = queue.FairStart{SaleStartsAt: start, Seed: queue.NewSeed()}
	got, err := st.PutEvent(t.Context(), e)
	if err != nil {
		t.Fatalf("PutEvent: %v", err)
	}
	if !got.FairStart.SaleStartsAt.Equal(start) || got.FairStart.Seed != e.FairStart.Seed || got.FairStart.IsPlaced() {
		t.Fatalf("PutEvent returned fair start %+v, want sale at %v with the given seed, unplaced", got.FairStart, start)
	}
	return got, start
}

// place places the event's pre-queue at now and fails unless this call did.
func place(t *testing.T, st queue.Store, eventID string, now time.Time) queue.FairStart {
	t.Helper()
	fs, placed, err := st.PlacePreQueue(t.Context(), eventID, now)
	if err != nil {
		t.Fatalf("PlacePreQueue: %v", err)
	}
	if !placed {
		t.Fatalf("PlacePreQueue at %v placed nothing; fair start %+v", now, fs)
	}
	return fs
}

// queueOrder returns the queued sessions among known, by position, after
// checking that positions are exact.
func queueOrder(t *testing.T, st queue.Store, eventID string, known []string) []string {
	t.Helper()
	checkPlaces(t, st, eventID, known)
	type at struct {
		id  string
		pos int64
	}
	var qs []at
	for _, id := range known {
		s, pl := session(t, st, id)
		if s.Status == queue.StatusQueued {
			qs = append(qs, at{id, pl.Position})
		}
	}
	slices.SortFunc(qs, func(a, b at) int { return compare(uint64(a.pos), uint64(b.pos)) })
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.id
	}
	return out
}

func testFairStartPermutation(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := epoch()
	e, start := fairEvent(t, st, base)
	pre := ids(joinN(t, st, e.ID, 12, base))
	if _, err := st.Leave(t.Context(), pre[3], base); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waiting := slices.Delete(slices.Clone(pre), 3, 4)
	before, err := st.Snapshot(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	for _, id := range waiting {
		if _, pl := session(t, st, id); !pl.PreQueue || !pl.Unplaced || pl.Position != 11 || pl.QueueLength != 11 {
			t.Fatalf("pre-queue session %s before the start: place %+v, want PreQueue, Unplaced, position = queue length = 11", id, pl)
		}
	}
	if got := admit(t, st, e.ID, start, 5); len(got) != 0 {
		t.Fatalf("an unplaced pre-queue admitted %v", ids(got))
	}
	if fs, placed, err := st.PlacePreQueue(t.Context(), e.ID, start.Add(-time.Millisecond)); err != nil || placed || fs.IsPlaced() {
		t.Fatalf("PlacePreQueue before the start = %+v, %v, %v; want nothing placed", fs, placed, err)
	}
	tickets := map[string]uint64{}
	for _, id := range waiting {
		s, _ := session(t, st, id)
		tickets[id] = s.Ticket
	}

	fs := place(t, st, e.ID, start)
	if fs.Placed != 11 || !fs.PlacedAt.Equal(start) || fs.PlacedSeq == 0 {
		t.Fatalf("placement = %+v, want 11 placed at %v", fs, start)
	}
	if _, placed, err := st.PlacePreQueue(t.Context(), e.ID, start.Add(time.Second)); err != nil || placed {
		t.Fatalf("a second PlacePreQueue = %v, %v; want nothing placed", placed, err)
	}
	after, err := st.Snapshot(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if !slices.Equal(before.Tickets, after.Tickets) || after.Seq != before.Seq+1 || fs.PlacedSeq != after.Seq {
		t.Fatalf("waiting tickets %v (seq %d) became %v (seq %d), placed at seq %d; want the same tickets and one change",
			before.Tickets, before.Seq, after.Tickets, after.Seq, fs.PlacedSeq)
	}
	// A permutation: every waiting session holds exactly one of the
	// pre-queue's tickets, and nobody was lost or duplicated.
	var old, dealt []uint64
	for _, id := range waiting {
		s, pl := session(t, st, id)
		if s.Status != queue.StatusQueued || !pl.PreQueue || pl.Unplaced {
			t.Fatalf("placed session %s: %v, place %+v", id, s.Status, pl)
		}
		old, dealt = append(old, tickets[id]), append(dealt, s.Ticket)
	}
	slices.Sort(old)
	slices.Sort(dealt)
	if !slices.Equal(old, dealt) {
		t.Fatalf("placement dealt tickets %v, the pre-queue held %v", dealt, old)
	}
	if got := queueOrder(t, st, e.ID, pre); len(got) != len(waiting) {
		t.Fatalf("%d queued after placement, want %d", len(got), len(waiting))
	}
	if s, _ := session(t, st, pre[3]); s.Status != queue.StatusLeft {
		t.Fatalf("the session that left before the start is %v after placement", s.Status)
	}
}

func testFairStartReproducible(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := epoch()
	e, start := fairEvent(t, st, base)
	commitment := e.FairStart.Commitment()
	pre := ids(joinN(t, st, e.ID, 30, base))
	fs := place(t, st, e.ID, start)

	stored, _, err := st.Event(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if stored.FairStart != fs || queue.SeedCommitment(mustHex(t, stored.FairStart.Seed)) != commitment {
		t.Fatalf("Event's fair start %+v, placement returned %+v; commitment before %s", stored.FairStart, fs, commitment)
	}
	want := queue.FairOrder(mustHex(t, stored.FairStart.Seed), pre)
	if got := queueOrder(t, st, e.ID, pre); !slices.Equal(got, want) {
		t.Fatalf("queue order after placement\n%v\nwant the ids sorted by HMAC-SHA256(seed, id)\n%v", got, want)
	}
	listed, err := st.PreQueue(t.Context(), e.ID)
	if err != nil || !slices.Equal(listed, want) {
		t.Fatalf("PreQueue = %v, %v; want %v", listed, err, want)
	}
	if slices.Equal(want, pre) {
		t.Fatalf("30 sessions placed in their arrival order: the seed shuffled nothing")
	}
	// Admission follows the placed order.
	got := ids(admit(t, st, e.ID, start, 10))
	if !slices.Equal(got, want[:10]) {
		t.Fatalf("admitted %v, want the first ten placed %v", got, want[:10])
	}
	if s, pl := session(t, st, got[0]); s.Status != queue.StatusReady || !pl.PreQueue || pl.Unplaced || pl.Position != 0 {
		t.Fatalf("an admitted pre-queue session: %v, place %+v; want PreQueue at position 0", s.Status, pl)
	}
}

func testFairStartLaterArrivals(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := epoch()
	e, start := fairEvent(t, st, base)
	pre := ids(joinN(t, st, e.ID, 8, base))
	// At the start, before placement: behind the pre-queue. Then a join
	// whose clock is behind (before the start) comes after it: the pre-queue
	// is closed, so it queues behind too.
	late1, pl := join(t, st, e.ID, "late1", start)
	if pl.PreQueue || pl.Position != 9 {
		t.Fatalf("a join at the start: place %+v, want position 9 outside the pre-queue", pl)
	}
	late2, pl := join(t, st, e.ID, "late2", start.Add(-time.Second))
	if pl.PreQueue || pl.Position != 10 {
		t.Fatalf("a join with an early clock after the pre-queue closed: place %+v, want position 10 outside it", pl)
	}
	if !late2.ExpiresAt.Equal(late2.JoinedAt.Add(ttl)) {
		t.Fatalf("a later arrival expires at %v, want its join + TTL", late2.ExpiresAt)
	}
	s, _ := session(t, st, pre[0])
	if !s.ExpiresAt.Equal(start.Add(ttl)) {
		t.Fatalf("a pre-queue session expires at %v, want the start + TTL %v", s.ExpiresAt, start.Add(ttl))
	}
	fs := place(t, st, e.ID, start.Add(time.Second))
	late3, pl := join(t, st, e.ID, "late3", start.Add(2*time.Second))
	if pl.PreQueue || pl.Position != 11 {
		t.Fatalf("a join after placement: place %+v, want position 11", pl)
	}
	all := append(slices.Clone(pre), late1.ID, late2.ID, late3.ID)
	want := append(queue.FairOrder(mustHex(t, fs.Seed), pre), late1.ID, late2.ID, late3.ID)
	if got := queueOrder(t, st, e.ID, all); !slices.Equal(got, want) {
		t.Fatalf("queue order %v, want the placed pre-queue then the later arrivals in order %v", got, want)
	}
}

func testFairStartSettings(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := epoch()
	// Sessions queued before sale_starts_at was set stay ahead, in order.
	id := newEventID()
	putEvent(t, st, defaultEvent(id))
	early := ids(joinN(t, st, id, 2, base))
	e := defaultEvent(id)
	start := base.Add(time.Hour)
	firstSeed := queue.NewSeed()
	e.FairStart = queue.FairStart{SaleStartsAt: start, Seed: firstSeed}
	putEvent(t, st, e)
	_, pl := join(t, st, id, "pre", base)
	if !pl.PreQueue || pl.Position != 3 || pl.QueueLength != 3 {
		t.Fatalf("pre-queue join behind 2 earlier sessions: place %+v, want position = queue length = 3", pl)
	}
	if _, pl := session(t, st, early[0]); pl.PreQueue || pl.Position != 1 {
		t.Fatalf("a session from before the fair start: place %+v, want position 1 outside the pre-queue", pl)
	}
	// Moved: a new time, the same seed; unset: kept.
	e.FairStart = queue.FairStart{SaleStartsAt: start.Add(time.Minute), Seed: queue.NewSeed()}
	putEvent(t, st, e)
	e.FairStart = queue.FairStart{}
	putEvent(t, st, e)
	got, _, err := st.Event(t.Context(), id)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if fs := got.FairStart; !fs.SaleStartsAt.Equal(start.Add(time.Minute)) || fs.Seed != firstSeed {
		t.Fatalf("after moving and then omitting sale_starts_at: %+v; want the moved time and the first seed", fs)
	}
	if _, placed, _ := st.PlacePreQueue(t.Context(), id, start); placed {
		t.Fatalf("placed at the old start, before the moved one")
	}
	fs := place(t, st, id, start.Add(time.Minute))
	// Placed: fixed.
	e.FairStart = queue.FairStart{SaleStartsAt: start.Add(time.Hour), Seed: queue.NewSeed()}
	putEvent(t, st, e)
	if got, _, _ := st.Event(t.Context(), id); got.FairStart != fs {
		t.Fatalf("PutEvent changed a placed fair start: %+v, want %+v", got.FairStart, fs)
	}
	if got := ids(admit(t, st, id, start.Add(time.Minute), 10)); !slices.Equal(got[:2], early) {
		t.Fatalf("admitted %v, want the earlier sessions %v first", got, early)
	}
	// A paused event is placed at its start too; it still admits nobody.
	p, start2 := fairEvent(t, st, base)
	p.State = queue.EventPaused
	putEvent(t, st, p)
	joinN(t, st, p.ID, 3, base)
	if fs := place(t, st, p.ID, start2); fs.Placed != 3 {
		t.Fatalf("placed %d of a paused event's 3", fs.Placed)
	}
	if got := admit(t, st, p.ID, start2, 10); len(got) != 0 {
		t.Fatalf("a paused event admitted %v after placement", ids(got))
	}
}

func testFairStartAnnounced(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := epoch()
	e, start := fairEvent(t, st, base)
	r := Subscribe(t, st, e.ID)
	joinN(t, st, e.ID, 3, base)
	fs := place(t, st, e.ID, start)
	cs := r.upTo(t, fs.PlacedSeq)
	last := cs[len(cs)-1]
	if last.Kind != queue.ChangePlaced || len(last.Sessions) != 0 || last.QueueLength != 3 || last.Seq != fs.PlacedSeq || !last.At.Equal(start) {
		t.Fatalf("placement announced %s, want one %v with no sessions, queue length 3, seq %d", formatChanges(cs[len(cs)-1:]), queue.ChangePlaced, fs.PlacedSeq)
	}
	if k, ok := queue.ParseChangeKind(queue.ChangePlaced.String()); !ok || k != queue.ChangePlaced {
		t.Fatalf("ParseChangeKind(%q) = %v, %v", queue.ChangePlaced.String(), k, ok)
	}
}

// testFairStartRace races two handles (replicas) to place: exactly one does,
// and the pre-queue is placed once, in its order.
func testFairStartRace(t *testing.T, newStore func(*testing.T) queue.Store) {
	handles := []queue.Store{newStore(t), newStore(t)}
	base := epoch()
	e, start := fairEvent(t, handles[0], base)
	pre := ids(joinN(t, handles[0], e.ID, 50, base))
	r := Subscribe(t, handles[1], e.ID)
	for round := range 4 {
		var wg sync.WaitGroup
		placed := make([]bool, 8)
		errs := make([]error, 8)
		for i := range placed {
			wg.Go(func() {
				_, placed[i], errs[i] = handles[i%2].PlacePreQueue(t.Context(), e.ID, start.Add(time.Duration(round)*time.Millisecond))
			})
		}
		wg.Wait()
		n := 0
		for i, p := range placed {
			if errs[i] != nil {
				t.Fatalf("PlacePreQueue: %v", errs[i])
			}
			if p {
				n++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[round == 0]; n != want {
			t.Fatalf("round %d: %d calls placed, want %d", round, n, want)
		}
	}
	got, _, err := handles[1].Event(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	cs := r.upTo(t, got.FairStart.PlacedSeq)
	placements := 0
	for _, c := range cs {
		if c.Kind == queue.ChangePlaced {
			placements++
		}
	}
	if placements != 1 {
		t.Fatalf("%d placements announced: %s", placements, formatChanges(cs))
	}
	if order := queueOrder(t, handles[1], e.ID, pre); !slices.Equal(order, queue.FairOrder(mustHex(t, got.FairStart.Seed), pre)) {
		t.Fatalf("racing placements left the order %v", order)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != queue.SeedSize {
		t.Fatalf("seed %q is not %d bytes of hex: %v", s, queue.SeedSize, err)
	}
	return b
}
