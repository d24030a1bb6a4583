package diskstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// workload drives a store through every kind of change with a seeded
// random mix, on its own clock.
type workload struct {
	rng      *rand.Rand
	now      time.Time
	sessions []string
	users    int
	// laneJoins counts sessions that joined a lane (of ev2).
	laneJoins int
}

func newWorkload(seed uint64) *workload {
	return &workload{rng: rand.New(rand.NewPCG(seed, 1)), now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (w *workload) step(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	ev := fmt.Sprintf("ev%d", w.rng.IntN(3))
	w.now = w.now.Add(time.Duration(w.rng.IntN(90)) * time.Second)
	var err error
	switch k := w.rng.IntN(20); {
	case k < 8:
		w.users++
		id := queue.NewSessionID(ev)
		p := queue.JoinParams{SessionID: id, UserID: fmt.Sprintf("u%d", w.users%40), EventID: ev, Now: w.now,
			TTL: 20 * time.Minute, NewEvent: queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 3, CheckoutWindow: 5 * time.Minute}}
		if ev == "ev2" {
			// ev2 has lanes: their queues and round-robin must survive too.
			p.NewEvent.Lanes = []lanes.Lane{{Name: "vip", Weight: 3}, {Name: "general", Weight: 1}}
			p.Lane = []string{"", "vip", "general"}[w.rng.IntN(3)]
		}
		var sess queue.Session
		var created bool
		sess, _, created, err = s.Join(ctx, p)
		if created && sess.Lane != "" {
			w.laneJoins++
		}
		w.sessions = append(w.sessions, id)
	case k < 10 && len(w.sessions) > 0:
		_, err = s.Leave(ctx, w.sessions[w.rng.IntN(len(w.sessions))], w.now)
	case k < 12 && len(w.sessions) > 0:
		_, err = s.Complete(ctx, w.sessions[w.rng.IntN(len(w.sessions))], w.now)
	case k < 13:
		_, err = s.Admit(ctx, ev, w.now, 1+w.rng.IntN(3))
	case k < 14:
		// Presence is not logged: the admission it decides is.
		for range w.rng.IntN(4) {
			if len(w.sessions) > 0 {
				id := w.sessions[w.rng.IntN(len(w.sessions))]
				err = errors.Join(err, s.MarkPresent(ctx, queue.EventOfSession(id), []string{id}, w.now.Add(2*time.Minute)))
			}
		}
		_, aerr := s.AdmitPresent(ctx, ev, w.now, 1+w.rng.IntN(3), queue.PresenceRule{Grace: time.Minute, Hold: 10 * time.Minute})
		err = errors.Join(err, aerr)
	case k < 16:
		_, err = s.Expire(ctx, ev, w.now, 1+w.rng.IntN(3))
	case k < 17:
		err = w.admin(ctx, s, ev)
	case k < 18:
		_, err = s.ForgetIdle(ctx, w.now, 30*time.Minute, 2)
	default:
		var es []queue.OutboxEntry
		es, err = s.ClaimOutbox(ctx, ev, "relay", 1+w.rng.IntN(4), time.Hour)
		if err == nil && len(es) > 0 {
			ids := []string{}
			for _, e := range es[:1+w.rng.IntN(len(es))] {
				ids = append(ids, e.ID)
			}
			err = s.AckOutbox(ctx, ev, ids)
		}
	}
	if errorsUnavailable(err) {
		t.Fatalf("step: %v", err)
	}
}

func errorsUnavailable(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte(queue.ErrUnavailable.Error()))
}

func dumpOf(s *Store) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.Dump()
}

func openT(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRestartRestoresExactly: after any mix of changes, with snapshots
// taken now and then, a reopened store holds exactly the state the closed
// one did (the canonical dumps are equal), and goes on numbering changes.
func TestRestartRestoresExactly(t *testing.T) {
	for _, snap := range []int64{1 << 30, 4096, 300} {
		t.Run(fmt.Sprintf("snapshot-every-%d", snap), func(t *testing.T) {
			cfg := Config{Dir: t.TempDir(), Outbox: true, SnapshotBytes: snap}
			w := newWorkload(uint64(snap))
			s := openT(t, cfg)
			for round := range 6 {
				for range 400 {
					w.step(t, s)
				}
				want := dumpOf(s)
				t.Logf("round %d: dump %d bytes, next record %d", round, len(want), s.nextLSN)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openT(t, cfg)
				if got := dumpOf(s); !bytes.Equal(got, want) {
					t.Fatalf("round %d: the reopened store differs from the closed one (%d vs %d bytes)", round, len(got), len(want))
				}
			}
			s.Close()
			if w.laneJoins == 0 {
				t.Fatal("the workload made no lane joins: lanes were not exercised")
			}
		})
	}
}

// TestForgottenEventsAreNotWatched: an event forgotten when idle leaves no
// watcher behind, and one joined again is watched (its changes announced)
// again.
func TestForgottenEventsAreNotWatched(t *testing.T) {
	s := openT(t, Config{Dir: t.TempDir()})
	defer s.Close()
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	join := func(at time.Time) queue.Session {
		sess, _, _, err := s.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID("gone"), UserID: "u", EventID: "gone", Now: at, TTL: time.Minute,
			NewEvent: queue.Event{ID: "gone", State: queue.EventActive, MaxConcurrent: 1, CheckoutWindow: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	sess := join(now)
	if _, err := s.Leave(ctx, sess.ID, now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(24 * time.Hour)
	for range 3 {
		if _, err := s.ForgetIdle(ctx, later, time.Hour, 10); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Event(ctx, "gone"); !errors.Is(err, queue.ErrEventNotFound) {
		t.Fatalf("the idle event was not forgotten: %v", err)
	}
	s.mu.Lock()
	_, watched := s.watched["gone"]
	s.mu.Unlock()
	if watched {
		t.Fatal("a forgotten event is still watched")
	}
	rec := &changeCount{}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Subscribe(sctx, "gone", rec)
	for rec.subscribed.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	join(later)
	if rec.changes.Load() != 1 {
		t.Fatalf("the event joined again announced %d changes, want 1", rec.changes.Load())
	}
}

type changeCount struct{ subscribed, changes atomic.Int64 }

func (c *changeCount) Subscribed()         { c.subscribed.Add(1) }
func (c *changeCount) Change(queue.Change) { c.changes.Add(1) }
