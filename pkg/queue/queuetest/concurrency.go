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
)

// testConcurrency hammers one event through two handles at once and then
// checks the invariants: capacity never exceeded, nobody admitted twice, no
// user with two live sessions, exact positions, and gapless change seqs.
func testConcurrency(t *testing.T, newStore func(*testing.T) queue.Store) {
	h := &hammer{t: t, handles: []queue.Store{newStore(t), newStore(t)}, ev: newEventID(), now: epoch(), admitted: map[string]bool{}}
	putEvent(t, h.handles[0], queue.Event{ID: h.ev, State: queue.EventActive, MaxConcurrent: hammerCapacity, CheckoutWindow: window})
	rec := Subscribe(t, h.handles[0], h.ev)

	stop := make(chan struct{})
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		h.monitorCapacity(stop)
	}()
	h.run()
	close(stop)
	<-monitorDone
	if t.Failed() {
		return
	}
	s := stats(t, h.handles[1], h.ev)
	h.checkCounts(s)
	h.checkSessions()
	h.checkChanges(rec, s)
}

// hammerCapacity is the checkout capacity of the event testConcurrency hammers.
const hammerCapacity = 5

// hammer is testConcurrency's run: random operations from many goroutines
// over two handles of one store, and the tally of what they did.
type hammer struct {
	t       *testing.T
	handles []queue.Store
	ev      string
	now     time.Time

	mu          sync.Mutex
	sessions    []queue.Session // every session a join created
	admitted    map[string]bool
	admittedIDs []string
	joins       int
	leaves      int
	completions int
}

// run makes the random operations: 8 workers, 100 each, over 24 users.
func (h *hammer) run() {
	const workers, ops = 8, 100
	seed := uint64(h.now.UnixNano())
	h.t.Logf("seed %d", seed)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for range ops {
				if h.t.Failed() {
					return
				}
				if !h.op(r, h.handles[r.IntN(len(h.handles))]) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// op makes one random operation on st; false stops its worker.
func (h *hammer) op(r *rand.Rand, st queue.Store) bool {
	const users = 24
	t, ctx := h.t, h.t.Context()
	switch k := r.IntN(100); {
	case k < 40:
		return h.join(st, fmt.Sprintf("u%d", r.IntN(users)))
	case k < 60:
		if id, ok := h.pick(r, h.knownIDs()); ok {
			h.leave(st, id)
		}
	case k < 80:
		return h.admit(st, 1+r.IntN(3))
	case k < 95:
		h.mu.Lock()
		list := h.admittedIDs
		h.mu.Unlock()
		if id, ok := h.pick(r, list); ok {
			h.complete(st, id)
		}
	default:
		if id, ok := h.pick(r, h.knownIDs()); ok {
			if _, _, err := st.Session(ctx, id); err != nil {
				t.Errorf("Session: %v", err)
			}
		}
	}
	return true
}

func (h *hammer) pick(r *rand.Rand, from []string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(from) == 0 {
		return "", false
	}
	return from[r.IntN(len(from))], true
}

func (h *hammer) knownIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return ids(h.sessions)
}

func (h *hammer) join(st queue.Store, user string) bool {
	s, _, created, err := st.Join(h.t.Context(), joinParams(h.ev, user, h.now))
	if err != nil {
		h.t.Errorf("Join: %v", err)
		return false
	}
	if s.UserID != user || !s.Status.Live() {
		h.t.Errorf("Join(%s) returned %+v", user, s)
	}
	if created {
		h.mu.Lock()
		h.sessions = append(h.sessions, s)
		h.joins++
		h.mu.Unlock()
	}
	return true
}

func (h *hammer) leave(st queue.Store, id string) {
	_, err := st.Leave(h.t.Context(), id, h.now)
	if err == nil {
		h.mu.Lock()
		h.leaves++
		h.mu.Unlock()
	} else if !errors.Is(err, queue.ErrNotQueued) {
		h.t.Errorf("Leave: %v", err)
	}
}

func (h *hammer) admit(st queue.Store, limit int) bool {
	got, err := st.Admit(h.t.Context(), h.ev, h.now, limit)
	if err != nil {
		h.t.Errorf("Admit: %v", err)
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range got {
		if h.admitted[s.ID] {
			h.t.Errorf("session %s admitted twice", s.ID)
		}
		h.admitted[s.ID] = true
		h.admittedIDs = append(h.admittedIDs, s.ID)
	}
	return true
}

func (h *hammer) complete(st queue.Store, id string) {
	_, err := st.Complete(h.t.Context(), id, h.now)
	if err == nil {
		h.mu.Lock()
		h.completions++
		h.mu.Unlock()
	} else if !errors.Is(err, queue.ErrNotAdmitted) {
		h.t.Errorf("Complete: %v", err)
	}
}

// monitorCapacity watches capacity while the workers run, until stop closes.
func (h *hammer) monitorCapacity(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		_, s, err := h.handles[1].Event(h.t.Context(), h.ev)
		if err != nil {
			h.t.Errorf("Event while running: %v", err)
			return
		}
		if s.Processing > hammerCapacity || s.Processing < 0 {
			h.t.Errorf("processing %d with capacity %d", s.Processing, hammerCapacity)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// checkCounts: the slots held add up to the admissions and completions made.
func (h *hammer) checkCounts(s queue.EventStats) {
	t := h.t
	if s.Processing > hammerCapacity {
		t.Fatalf("processing %d with capacity %d", s.Processing, hammerCapacity)
	}
	if len(h.admitted) > hammerCapacity+h.completions {
		t.Fatalf("%d admitted with capacity %d and %d completions", len(h.admitted), hammerCapacity, h.completions)
	}
	if s.Processing != int64(len(h.admitted)-h.completions) {
		t.Fatalf("processing %d, but %d admitted and %d completed", s.Processing, len(h.admitted), h.completions)
	}
	t.Logf("%d joins, %d leaves, %d admitted, %d completed, final %+v", h.joins, h.leaves, len(h.admitted), h.completions, s)
}

// checkSessions: no user holds two live sessions, tickets are unique, and
// places are exact.
func (h *hammer) checkSessions() {
	t := h.t
	live := map[string]string{}
	tickets := map[uint64]string{}
	for _, ss := range h.sessions {
		got, _ := session(t, h.handles[0], ss.ID)
		if prev, dup := tickets[got.Ticket]; dup {
			t.Fatalf("sessions %s and %s share ticket %d", prev, ss.ID, got.Ticket)
		}
		tickets[got.Ticket] = ss.ID
		if got.Status == queue.StatusReady && !h.admitted[ss.ID] {
			t.Fatalf("session %s is ready but no Admit returned it", ss.ID)
		}
		if !got.Status.Live() {
			continue
		}
		if prev, dup := live[got.UserID]; dup {
			t.Fatalf("user %s holds two live sessions: %s and %s", got.UserID, prev, ss.ID)
		}
		live[got.UserID] = ss.ID
	}
	checkPlaces(t, h.handles[0], h.ev, ids(h.sessions))
}

// checkChanges: every change arrived once, in order, and they add up to the
// calls made and to the snapshot.
func (h *hammer) checkChanges(rec *Recorder, s queue.EventStats) {
	t := h.t
	cs := rec.upTo(t, s.Seq)
	if len(cs) != int(s.Seq) || cs[0].Seq != 1 {
		t.Fatalf("got %d changes from seq %d, want 1..%d", len(cs), cs[0].Seq, s.Seq)
	}
	count := map[queue.ChangeKind]int{}
	for _, c := range cs {
		if c.EventID != h.ev {
			t.Fatalf("change for %s on %s's subscription", c.EventID, h.ev)
		}
		count[c.Kind] += len(c.Sessions)
	}
	if count[queue.ChangeJoined] != h.joins || count[queue.ChangeLeft] != h.leaves ||
		count[queue.ChangeAdmitted] != len(h.admitted) || count[queue.ChangeCompleted] != h.completions || count[queue.ChangeExpired] != 0 {
		t.Fatalf("changes announced %v; the calls made %d joins, %d leaves, %d admissions, %d completions",
			count, h.joins, h.leaves, len(h.admitted), h.completions)
	}
	snap, err := h.handles[1].Snapshot(t.Context(), h.ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := replay(cs); !slices.Equal(got, snap.Tickets) {
		t.Fatalf("replaying the changes gives %v, the snapshot is %v", got, snap.Tickets)
	}
}

// testConcurrentJoins: many joins of the same few users at once, over two
// handles, create exactly one session per user, and every join of a user
// returns that session.
func testConcurrentJoins(t *testing.T, newStore func(*testing.T) queue.Store) {
	handles := []queue.Store{newStore(t), newStore(t)}
	ev, now := newEventID(), epoch()
	const users, joinsPerUser, rounds = 3, 8, 5
	for round := range rounds {
		start := make(chan struct{})
		var (
			mu      sync.Mutex
			got     = map[string]map[string]bool{} // user -> session ids returned
			created = map[string]int{}
			wg      sync.WaitGroup
		)
		for u := range users {
			user := fmt.Sprintf("r%d-u%d", round, u)
			got[user] = map[string]bool{}
			for j := range joinsPerUser {
				wg.Go(func() {
					<-start
					s, _, c, err := handles[j%2].Join(t.Context(), joinParams(ev, user, now))
					if err != nil {
						t.Errorf("Join(%s): %v", user, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					got[user][s.ID] = true
					if c {
						created[user]++
					}
				})
			}
		}
		close(start)
		wg.Wait()
		for user, sessions := range got {
			if len(sessions) != 1 || created[user] != 1 {
				t.Fatalf("%d concurrent joins of %s created %d sessions and returned %d distinct ids",
					joinsPerUser, user, created[user], len(sessions))
			}
		}
	}
	if s := stats(t, handles[0], ev); s.QueueLength != users*rounds || s.Seq != users*rounds {
		t.Fatalf("stats after the joins: %+v, want %d queued at seq %d", s, users*rounds, users*rounds)
	}
}

// testConcurrentAdmits: Admit calls made at once (a processor sends several
// batches together) are each atomic: together they admit exactly the head of
// the queue up to the capacity, nobody twice, and announce it all in
// admission changes with consecutive sequence numbers.
func testConcurrentAdmits(t *testing.T, newStore func(*testing.T) queue.Store) {
	handles := []queue.Store{newStore(t), newStore(t)}
	ev, now := newEventID(), epoch()
	const capacity, queued, calls, limit = 50, 70, 8, 9
	putEvent(t, handles[0], queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: capacity, CheckoutWindow: window})
	ss := joinN(t, handles[0], ev, queued, now)
	rec := Subscribe(t, handles[0], ev)
	at := now.Add(time.Minute)

	start := make(chan struct{})
	var (
		mu       sync.Mutex
		admitted = map[string]int{}
		wg       sync.WaitGroup
	)
	for i := range calls {
		wg.Go(func() {
			<-start
			got, err := handles[i%2].Admit(t.Context(), ev, at, limit)
			if err != nil {
				t.Errorf("Admit: %v", err)
				return
			}
			if len(got) > limit {
				t.Errorf("Admit(limit %d) admitted %d", limit, len(got))
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range got {
				admitted[s.ID]++
			}
		})
	}
	close(start)
	wg.Wait()

	if len(admitted) != capacity {
		t.Fatalf("%d concurrent Admit(limit %d) calls admitted %d sessions, want the capacity %d", calls, limit, len(admitted), capacity)
	}
	for i, s := range ss {
		switch n := admitted[s.ID]; {
		case n > 1:
			t.Fatalf("%s admitted %d times", s.ID, n)
		case i < capacity && n != 1:
			t.Fatalf("%s (position %d) not admitted while later ones were", s.ID, i+1)
		case i >= capacity && n != 0:
			t.Fatalf("%s (position %d) admitted beyond the capacity", s.ID, i+1)
		}
	}
	st := stats(t, handles[0], ev)
	if st.QueueLength != queued-capacity || st.Processing != capacity {
		t.Fatalf("stats after the admissions: %+v, want %d queued and %d processing", st, queued-capacity, capacity)
	}
	// Admission changes with consecutive seqs (upTo checks), covering them all.
	changes := rec.upTo(t, st.Seq)
	seen := 0
	for _, c := range changes {
		if c.Seq <= queued {
			continue
		}
		if c.Kind != queue.ChangeAdmitted {
			t.Fatalf("change %d is %v, want an admission", c.Seq, c.Kind)
		}
		seen += len(c.Sessions)
	}
	if seen != capacity {
		t.Fatalf("admission changes list %d sessions, want %d", seen, capacity)
	}
}
