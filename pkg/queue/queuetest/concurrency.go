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
	handles := []queue.Store{newStore(t), newStore(t)}
	ev, now := newEventID(), epoch()
	const capacity = 5
	putEvent(t, handles[0], queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: capacity, CheckoutWindow: window})
	rec := Subscribe(t, handles[0], ev)

	var (
		mu          sync.Mutex
		sessions    []queue.Session // every session a join created
		admitted    = map[string]bool{}
		admittedIDs []string
		joins       int
		leaves      int
		completions int
	)
	pick := func(r *rand.Rand, from []string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(from) == 0 {
			return "", false
		}
		return from[r.IntN(len(from))], true
	}
	knownIDs := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return ids(sessions)
	}

	// The monitor watches capacity while the workers run.
	stop := make(chan struct{})
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, s, err := handles[1].Event(t.Context(), ev)
			if err != nil {
				t.Errorf("Event while running: %v", err)
				return
			}
			if s.Processing > capacity || s.Processing < 0 {
				t.Errorf("processing %d with capacity %d", s.Processing, capacity)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()

	const workers, ops, users = 8, 100, 24
	seed := uint64(now.UnixNano())
	t.Logf("seed %d", seed)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for range ops {
				if t.Failed() {
					return
				}
				st := handles[r.IntN(len(handles))]
				switch k := r.IntN(100); {
				case k < 40:
					user := fmt.Sprintf("u%d", r.IntN(users))
					s, _, created, err := st.Join(t.Context(), joinParams(ev, user, now))
					if err != nil {
						t.Errorf("Join: %v", err)
						return
					}
					if s.UserID != user || !s.Status.Live() {
						t.Errorf("Join(%s) returned %+v", user, s)
					}
					if created {
						mu.Lock()
						sessions = append(sessions, s)
						joins++
						mu.Unlock()
					}
				case k < 60:
					id, ok := pick(r, knownIDs())
					if !ok {
						continue
					}
					_, err := st.Leave(t.Context(), id, now)
					if err == nil {
						mu.Lock()
						leaves++
						mu.Unlock()
					} else if !errors.Is(err, queue.ErrNotQueued) {
						t.Errorf("Leave: %v", err)
					}
				case k < 80:
					got, err := st.Admit(t.Context(), ev, now, 1+r.IntN(3))
					if err != nil {
						t.Errorf("Admit: %v", err)
						return
					}
					mu.Lock()
					for _, s := range got {
						if admitted[s.ID] {
							t.Errorf("session %s admitted twice", s.ID)
						}
						admitted[s.ID] = true
						admittedIDs = append(admittedIDs, s.ID)
					}
					mu.Unlock()
				case k < 95:
					mu.Lock()
					list := admittedIDs
					mu.Unlock()
					id, ok := pick(r, list)
					if !ok {
						continue
					}
					_, err := st.Complete(t.Context(), id, now)
					if err == nil {
						mu.Lock()
						completions++
						mu.Unlock()
					} else if !errors.Is(err, queue.ErrNotAdmitted) {
						t.Errorf("Complete: %v", err)
					}
				default:
					if id, ok := pick(r, knownIDs()); ok {
						if _, _, err := st.Session(t.Context(), id); err != nil {
							t.Errorf("Session: %v", err)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-monitorDone
	if t.Failed() {
		return
	}

	s := stats(t, handles[1], ev)
	if s.Processing > capacity {
		t.Fatalf("processing %d with capacity %d", s.Processing, capacity)
	}
	if len(admitted) > capacity+completions {
		t.Fatalf("%d admitted with capacity %d and %d completions", len(admitted), capacity, completions)
	}
	if s.Processing != int64(len(admitted)-completions) {
		t.Fatalf("processing %d, but %d admitted and %d completed", s.Processing, len(admitted), completions)
	}
	t.Logf("%d joins, %d leaves, %d admitted, %d completed, final %+v", joins, leaves, len(admitted), completions, s)

	// No user holds two live sessions, and tickets are unique.
	live := map[string]string{}
	tickets := map[uint64]string{}
	for _, ss := range sessions {
		got, _ := session(t, handles[0], ss.ID)
		if prev, dup := tickets[got.Ticket]; dup {
			t.Fatalf("sessions %s and %s share ticket %d", prev, ss.ID, got.Ticket)
		}
		tickets[got.Ticket] = ss.ID
		if got.Status == queue.StatusReady && !admitted[ss.ID] {
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
	checkPlaces(t, handles[0], ev, ids(sessions))

	// Every change arrived once, in order, and they add up.
	cs := rec.upTo(t, s.Seq)
	if len(cs) != int(s.Seq) || cs[0].Seq != 1 {
		t.Fatalf("got %d changes from seq %d, want 1..%d", len(cs), cs[0].Seq, s.Seq)
	}
	count := map[queue.ChangeKind]int{}
	for _, c := range cs {
		if c.EventID != ev {
			t.Fatalf("change for %s on %s's subscription", c.EventID, ev)
		}
		count[c.Kind] += len(c.Sessions)
	}
	if count[queue.ChangeJoined] != joins || count[queue.ChangeLeft] != leaves ||
		count[queue.ChangeAdmitted] != len(admitted) || count[queue.ChangeCompleted] != completions || count[queue.ChangeExpired] != 0 {
		t.Fatalf("changes announced %v; the calls made %d joins, %d leaves, %d admissions, %d completions",
			count, joins, leaves, len(admitted), completions)
	}
	snap, err := handles[1].Snapshot(t.Context(), ev)
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
