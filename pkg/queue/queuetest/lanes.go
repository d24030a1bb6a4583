package queuetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// Priority lanes (queue/lane.go): admission follows the smooth weighted
// round-robin of package lanes exactly, each lane is FIFO, and a queued
// session's position is its place in the order a brute-force run of that
// round-robin over the current queue gives.

// laneEvent creates an event with lanes; it skips the test on a store that
// refuses lanes with queue.ErrLanesUnsupported.
func laneEvent(t *testing.T, st queue.Store, ls ...lanes.Lane) queue.Event {
	t.Helper()
	e := defaultEvent(newEventID())
	e.MaxConcurrent = 1 << 30
	e.Lanes = ls
	got, err := st.PutEvent(t.Context(), e)
	if errors.Is(err, queue.ErrLanesUnsupported) {
		t.Skip("the store refuses lanes")
	}
	if err != nil {
		t.Fatalf("PutEvent(lanes %v): %v", ls, err)
	}
	if !slices.Equal(got.Lanes, ls) {
		t.Fatalf("PutEvent stored lanes %v, want %v", got.Lanes, ls)
	}
	return got
}

func joinLane(t *testing.T, st queue.Store, e queue.Event, user, lane string, now time.Time) queue.Session {
	t.Helper()
	p := joinParams(e.ID, user, now)
	p.NewEvent, p.Lane = e, lane
	s, _, created, err := st.Join(t.Context(), p)
	if err != nil || !created {
		t.Fatalf("Join(%s, lane %q) = created %v, %v", user, lane, created, err)
	}
	return s
}

// laneModel is the brute force: each lane's waiting ids in order, and the
// round-robin's state, advanced as the store must.
type laneModel struct {
	weights []int64
	names   []string
	q       [][]string
	rr      lanes.State
}

func newLaneModel(e queue.Event) *laneModel {
	return &laneModel{weights: lanes.Weights(e.Lanes), names: e.LaneNames(), q: make([][]string, len(e.Lanes))}
}

func (m *laneModel) lane(name string) int { return slices.Index(m.names, name) }

func (m *laneModel) counts() []int64 {
	n := make([]int64, len(m.q))
	for i, q := range m.q {
		n[i] = int64(len(q))
	}
	return n
}

func (m *laneModel) join(s queue.Session) { j := m.lane(s.Lane); m.q[j] = append(m.q[j], s.ID) }

func (m *laneModel) remove(id string) {
	for j, q := range m.q {
		if i := slices.Index(q, id); i >= 0 {
			m.q[j] = slices.Delete(q, i, i+1)
		}
	}
}

// admit draws n sessions, in order.
func (m *laneModel) admit(n int) []string {
	var out []string
	for range n {
		j := lanes.Next(&m.rr, m.weights, m.counts())
		if j < 0 {
			break
		}
		out = append(out, m.q[j][0])
		m.q[j] = m.q[j][1:]
	}
	return out
}

// positions runs the round-robin to the end on a copy: every waiting id's
// 1-based place.
func (m *laneModel) positions() map[string]int64 {
	c := &laneModel{weights: m.weights, names: m.names, rr: m.rr.Clone()}
	for _, q := range m.q {
		c.q = append(c.q, slices.Clone(q))
	}
	out := map[string]int64{}
	for i, id := range c.admit(1 << 30) {
		out[id] = int64(i + 1)
	}
	return out
}

// checkLanePlaces asserts every waiting session's position is the model's.
func (m *laneModel) check(t *testing.T, st queue.Store) {
	t.Helper()
	want := m.positions()
	for id, pos := range want {
		s, pl := session(t, st, id)
		if s.Status != queue.StatusQueued || pl.Position != pos || pl.QueueLength != int64(len(want)) {
			t.Fatalf("session %s (lane %s): %v at %d of %d, want queued at %d of %d", id, s.Lane, s.Status, pl.Position, pl.QueueLength, pos, len(want))
		}
	}
}

// testLaneWeights: 10,000 admissions, in batches, with joins in between
// that empty and refill lanes, match the round-robin draw for draw.
func testLaneWeights(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	e := laneEvent(t, st, lanes.Lane{Name: "vip", Weight: 3}, lanes.Lane{Name: "general", Weight: 1}, lanes.Lane{Name: "members", Weight: 2})
	m := newLaneModel(e)
	now := epoch()
	users := 0
	joinSome := func(lane string, n int) {
		for range n {
			users++
			m.join(joinLane(t, st, e, fmt.Sprintf("u%d", users), lane, now))
		}
	}
	joinSome("vip", 4000)
	joinSome("general", 2000)
	joinSome("", 1500) // the default lane: vip
	joinSome("members", 2000)
	admitted := 0
	perLane := map[string]int{}
	for round := 0; admitted < 10_000; round++ {
		// Batches of 100: each call stays short on a shared test server.
		want := m.admit(100)
		got := admit(t, st, e.ID, now, 100)
		if !slices.Equal(ids(got), want) {
			t.Fatalf("round %d: admitted %d sessions differing from the round-robin's %d", round, len(got), len(want))
		}
		for _, s := range got {
			perLane[s.Lane]++
		}
		if len(got) == 0 {
			t.Fatalf("round %d: nobody admitted after %d", round, admitted)
		}
		admitted += len(got)
		if round == 42 {
			// Joins between admissions; members (3,000 in all, a third
			// of the draws) empties before the end, changing the set.
			joinSome("general", 1500)
			joinSome("members", 1000)
		}
	}
	if perLane["vip"]+perLane["general"]+perLane["members"] != admitted || perLane["members"] != 3000 {
		t.Fatalf("admissions per lane %v", perLane)
	}
}

// testLanePositions: on random queues of random lanes, with joins, leaves
// and admissions in between, every position equals the brute force's.
func testLanePositions(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))
	for c := range 4 {
		var ls []lanes.Lane
		for i := range 1 + r.IntN(4) {
			ls = append(ls, lanes.Lane{Name: fmt.Sprintf("l%d", i), Weight: 1 + r.Int64N(5)})
		}
		e := laneEvent(t, st, ls...)
		m := newLaneModel(e)
		now := epoch()
		users := 0
		for step := range 12 {
			for range r.IntN(15) {
				users++
				m.join(joinLane(t, st, e, fmt.Sprintf("u%d", users), ls[r.IntN(len(ls))].Name, now))
			}
			if w := m.positions(); len(w) > 0 && r.IntN(2) == 0 {
				for id := range w {
					if _, err := st.Leave(t.Context(), id, now); err != nil {
						t.Fatalf("Leave: %v", err)
					}
					m.remove(id)
					break
				}
			}
			n := r.IntN(6)
			if got, want := ids(admit(t, st, e.ID, now, n)), m.admit(n); !slices.Equal(got, want) {
				t.Fatalf("case %d step %d: admitted %v, want %v", c, step, got, want)
			}
			m.check(t, st)
		}
	}
}

// testLaneJoin: a join names a lane of the event or none (the first);
// anything else is an invalid argument, and so is any lane in an event
// without lanes.
func testLaneJoin(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	e := laneEvent(t, st, lanes.Lane{Name: "vip", Weight: 3}, lanes.Lane{Name: "general", Weight: 1})
	rec := Subscribe(t, st, e.ID)
	now := epoch()
	if s := joinLane(t, st, e, "a", "", now); s.Lane != "vip" {
		t.Fatalf("a join without a lane is in lane %q, want the first, vip", s.Lane)
	}
	s := joinLane(t, st, e, "b", "general", now)
	if got, _ := session(t, st, s.ID); got.Lane != "general" {
		t.Fatalf("Session reads lane %q, want general", got.Lane)
	}
	// Changes carry the lane and the lanes' state; snapshots each ticket's lane.
	c := rec.WaitSession(t, s.ID)
	if c.Lanes == nil || !slices.Equal(c.Lanes.Lanes, e.Lanes) || c.Sessions[0].Lane != "general" {
		t.Fatalf("the join's change %+v carries lanes %+v", c, c.Lanes)
	}
	snap, err := st.Snapshot(t.Context(), e.ID)
	if err != nil || snap.Lanes == nil || !slices.Equal(snap.TicketLanes, []string{"vip", "general"}) {
		t.Fatalf("Snapshot = %+v, %v: want the lanes and each ticket's lane", snap, err)
	}
	var inv *queue.InvalidArgumentError
	p := joinParams(e.ID, "c", now)
	p.NewEvent, p.Lane = e, "gold"
	if _, _, _, err := st.Join(t.Context(), p); !errors.As(err, &inv) || inv.Field != "lane" {
		t.Fatalf("Join(unknown lane) = %v, want an invalid lane", err)
	}
	plain := newEventID()
	p = joinParams(plain, "c", now)
	p.Lane = "vip"
	if _, _, _, err := st.Join(t.Context(), p); !errors.As(err, &inv) || inv.Field != "lane" {
		t.Fatalf("Join(a lane, event without lanes) = %v, want an invalid lane", err)
	}
}

// testLaneChange: lanes change freely except that a lane with waiting
// sessions is never dropped; the round-robin restarts from zeros.
func testLaneChange(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	e := laneEvent(t, st, lanes.Lane{Name: "vip", Weight: 3}, lanes.Lane{Name: "general", Weight: 1})
	now := epoch()
	g := joinLane(t, st, e, "a", "general", now)
	drop := e
	drop.Lanes = []lanes.Lane{{Name: "vip", Weight: 3}}
	if _, err := st.PutEvent(t.Context(), drop); !errors.Is(err, queue.ErrLanesInUse) {
		t.Fatalf("PutEvent dropping a lane with a waiting session: %v, want ErrLanesInUse", err)
	}
	none := e
	none.Lanes = nil
	if _, err := st.UpdateEvent(t.Context(), queue.EventUpdate{Event: none, Fields: queue.EventFields(queue.FieldLanes)}); !errors.Is(err, queue.ErrLanesInUse) {
		t.Fatalf("UpdateEvent removing every lane: %v, want ErrLanesInUse", err)
	}
	// Reweighting and adding keep every lane with waiters.
	more := e
	more.Lanes = []lanes.Lane{{Name: "general", Weight: 5}, {Name: "vip", Weight: 1}, {Name: "staff", Weight: 2}}
	got, err := st.UpdateEvent(t.Context(), queue.EventUpdate{Event: more, Fields: queue.EventFields(queue.FieldLanes)})
	if err != nil || !slices.Equal(got.Lanes, more.Lanes) {
		t.Fatalf("UpdateEvent(lanes %v) = %v, %v", more.Lanes, got.Lanes, err)
	}
	if _, err := st.Leave(t.Context(), g.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateEvent(t.Context(), queue.EventUpdate{Event: none, Fields: queue.EventFields(queue.FieldLanes)}); err != nil {
		t.Fatalf("UpdateEvent removing empty lanes: %v", err)
	}
	// An event without lanes has one unnamed lane: lanes come only while
	// it is empty.
	plain := defaultEvent(newEventID())
	putEvent(t, st, plain)
	join(t, st, plain.ID, "x", now)
	plain.Lanes = []lanes.Lane{{Name: "vip", Weight: 2}}
	if _, err := st.PutEvent(t.Context(), plain); !errors.Is(err, queue.ErrLanesInUse) {
		t.Fatalf("PutEvent adding lanes to an event with waiting sessions: %v, want ErrLanesInUse", err)
	}
}

// testLanesFairStart: the placement deals the pre-queue's tickets in the
// fair order and every session keeps its lane, so each lane's share comes
// out in shuffled order ahead of the lane's later joins.
func testLanesFairStart(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	base := epoch()
	e := defaultEvent(newEventID())
	e.MaxConcurrent = 1000
	e.Lanes = []lanes.Lane{{Name: "vip", Weight: 2}, {Name: "general", Weight: 1}}
	e.FairStart = queue.FairStart{SaleStartsAt: base.Add(time.Hour), Seed: queue.NewSeed()}
	e, err := st.PutEvent(t.Context(), e)
	if errors.Is(err, queue.ErrLanesUnsupported) {
		t.Skip("the store refuses lanes")
	}
	if err != nil {
		t.Fatal(err)
	}
	laneOf := map[string]string{}
	var pre []string
	for i := range 30 {
		s := joinLane(t, st, e, fmt.Sprintf("p%d", i), e.Lanes[i%3/2].Name, base)
		pre, laneOf[s.ID] = append(pre, s.ID), s.Lane
	}
	fs := place(t, st, e.ID, base.Add(time.Hour))
	m := newLaneModel(e)
	for _, id := range fs.Order(pre) {
		m.join(queue.Session{ID: id, Lane: laneOf[id]})
	}
	for i := range 6 {
		m.join(joinLane(t, st, e, fmt.Sprintf("l%d", i), e.Lanes[i%2].Name, base.Add(2*time.Hour)))
	}
	m.check(t, st)
	if got, want := ids(admit(t, st, e.ID, base.Add(2*time.Hour), 36)), m.admit(36); !slices.Equal(got, want) {
		t.Fatalf("admitted %v, want %v", got, want)
	}
}

// testLanesAdmitPresent: in an event with lanes, presence-aware admission
// admits in the round-robin's order, absent or not.
func testLanesAdmitPresent(t *testing.T, newStore func(*testing.T) queue.Store) {
	st := newStore(t)
	e := laneEvent(t, st, lanes.Lane{Name: "vip", Weight: 1}, lanes.Lane{Name: "general", Weight: 1})
	now := epoch()
	m := newLaneModel(e)
	for i := range 4 {
		m.join(joinLane(t, st, e, fmt.Sprintf("u%d", i), e.Lanes[i%2].Name, now))
	}
	later := now.Add(time.Hour) // long past the grace: everyone is absent
	got, err := st.AdmitPresent(t.Context(), e.ID, later, 3, queue.PresenceRule{Grace: time.Minute, Hold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if want := m.admit(3); !slices.Equal(ids(got), want) {
		t.Fatalf("AdmitPresent admitted %v, want %v", ids(got), want)
	}
	m.check(t, st)
}

// testLaneConcurrentAdmits: admissions racing on two handles (replicas)
// still follow the round-robin draw for draw, in the order of their
// changes, and never pass the capacity.
func testLaneConcurrentAdmits(t *testing.T, newStore func(*testing.T) queue.Store) {
	handles := []queue.Store{newStore(t), newStore(t)}
	e := defaultEvent(newEventID())
	e.MaxConcurrent = 50
	e.Lanes = []lanes.Lane{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}, {Name: "c", Weight: 2}}
	e, err := handles[0].PutEvent(t.Context(), e)
	if errors.Is(err, queue.ErrLanesUnsupported) {
		t.Skip("the store refuses lanes")
	}
	if err != nil {
		t.Fatal(err)
	}
	m := newLaneModel(e)
	now := epoch()
	for i := range 90 {
		m.join(joinLane(t, handles[i%2], e, fmt.Sprintf("u%d", i), e.Lanes[i%5%3].Name, now))
	}
	joined := stats(t, handles[0], e.ID).Seq
	rec := Subscribe(t, handles[0], e.ID)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			<-start
			if _, err := handles[i%2].Admit(t.Context(), e.ID, now, 9); err != nil {
				t.Errorf("Admit: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	st := stats(t, handles[0], e.ID)
	if st.Processing != e.MaxConcurrent {
		t.Fatalf("%d processing after the race, want the capacity %d", st.Processing, e.MaxConcurrent)
	}
	var got []string
	for _, c := range rec.upTo(t, st.Seq) {
		if c.Seq > joined {
			for _, s := range c.Sessions {
				got = append(got, s.ID)
			}
		}
	}
	if want := m.admit(int(e.MaxConcurrent)); !slices.Equal(got, want) {
		t.Fatalf("racing admissions, in change order, admitted %v\nwant the round-robin's %v", got, want)
	}
	m.check(t, handles[1])
}
