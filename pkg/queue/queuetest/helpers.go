package queuetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

const (
	// waitLimit bounds how long the suite waits for a change to arrive over
	// pub/sub: a liveness guard against hanging, not a timing assertion.
	waitLimit = 15 * time.Second
	ttl       = time.Hour
	window    = 10 * time.Minute
)

// newEventID returns an event id no other subtest or run uses.
func newEventID() string {
	return "qt-" + rand.Text()[:16]
}

// epoch is the suite's "now": real time, so a store that derives key expiry
// from the times it is given keeps the data for the test's life.
func epoch() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func defaultEvent(id string) queue.Event {
	return queue.Event{
		ID:             id,
		State:          queue.EventActive,
		MaxConcurrent:  100,
		CheckoutWindow: window,
		CheckoutURL:    "https://checkout.invalid/" + id,
	}
}

func putEvent(t *testing.T, st queue.Store, e queue.Event) {
	t.Helper()
	if _, err := st.PutEvent(t.Context(), e); err != nil {
		t.Fatalf("PutEvent(%s): %v", e.ID, err)
	}
}

func joinParams(eventID, userID string, now time.Time) queue.JoinParams {
	return queue.JoinParams{
		SessionID: queue.NewSessionID(eventID),
		UserID:    userID,
		EventID:   eventID,
		Now:       now,
		TTL:       ttl,
		NewEvent:  defaultEvent(eventID),
	}
}

// join joins and fails the test unless a new session was created.
func join(t *testing.T, st queue.Store, eventID, userID string, now time.Time) (queue.Session, queue.Place) {
	t.Helper()
	s, pl, created, err := st.Join(t.Context(), joinParams(eventID, userID, now))
	if err != nil {
		t.Fatalf("Join(%s, %s): %v", eventID, userID, err)
	}
	if !created {
		t.Fatalf("Join(%s, %s): created = false for a new user", eventID, userID)
	}
	return s, pl
}

// joinN joins users u0..u(n-1) at now and returns their sessions in order.
func joinN(t *testing.T, st queue.Store, eventID string, n int, now time.Time) []queue.Session {
	t.Helper()
	out := make([]queue.Session, n)
	for i := range n {
		out[i], _ = join(t, st, eventID, fmt.Sprintf("u%d", i), now)
	}
	return out
}

func session(t *testing.T, st queue.Store, id string) (queue.Session, queue.Place) {
	t.Helper()
	s, pl, err := st.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%s): %v", id, err)
	}
	return s, pl
}

func stats(t *testing.T, st queue.Store, eventID string) queue.EventStats {
	t.Helper()
	_, s, err := st.Event(t.Context(), eventID)
	if err != nil {
		t.Fatalf("Event(%s): %v", eventID, err)
	}
	return s
}

func admit(t *testing.T, st queue.Store, eventID string, now time.Time, limit int) []queue.Session {
	t.Helper()
	out, err := st.Admit(t.Context(), eventID, now, limit)
	if err != nil {
		t.Fatalf("Admit(%s): %v", eventID, err)
	}
	return out
}

func expire(t *testing.T, st queue.Store, eventID string, now time.Time, limit int) []queue.Session {
	t.Helper()
	out, err := st.Expire(t.Context(), eventID, now, limit)
	if err != nil {
		t.Fatalf("Expire(%s): %v", eventID, err)
	}
	return out
}

// wantStatusError checks err is a *queue.StatusError wrapping sentinel and
// naming status.
func wantStatusError(t *testing.T, what string, err, sentinel error, status queue.Status) {
	t.Helper()
	var se *queue.StatusError
	if !errors.Is(err, sentinel) || !errors.As(err, &se) {
		t.Fatalf("%s: err = %v, want a *queue.StatusError wrapping %v", what, err, sentinel)
	}
	if se.Status != status {
		t.Fatalf("%s: StatusError.Status = %v, want %v", what, se.Status, status)
	}
}

func ids(ss []queue.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// checkPlaces asserts the heart of the contract for a quiescent event: the
// queued sessions among known are exactly the snapshot's tickets, and their
// positions are exactly 1..queue length in ticket order, all read at the
// snapshot's sequence number. known must include every session of the event
// that may be queued.
func checkPlaces(t *testing.T, st queue.Store, eventID string, known []string) {
	t.Helper()
	snap, err := st.Snapshot(t.Context(), eventID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if !slices.IsSorted(snap.Tickets) || len(slices.Compact(slices.Clone(snap.Tickets))) != len(snap.Tickets) {
		t.Fatalf("Snapshot tickets are not strictly ascending: %v", snap.Tickets)
	}
	type queued struct {
		id     string
		ticket uint64
		pos    int64
	}
	var qs []queued
	for _, id := range known {
		s, pl, err := st.Session(t.Context(), id)
		if errors.Is(err, queue.ErrSessionNotFound) {
			continue // ended long enough ago to be forgotten; the counts below still catch a lost queued session
		}
		if err != nil {
			t.Fatalf("Session(%s): %v", id, err)
		}
		if s.Status != queue.StatusQueued {
			if pl.Position != 0 {
				t.Fatalf("session %s is %v but has position %d", id, s.Status, pl.Position)
			}
			continue
		}
		if pl.QueueLength != int64(len(snap.Tickets)) {
			t.Fatalf("session %s: QueueLength = %d, snapshot has %d tickets", id, pl.QueueLength, len(snap.Tickets))
		}
		if pl.Seq != snap.Seq {
			t.Fatalf("session %s: Place.Seq = %d, Snapshot.Seq = %d (nothing changed in between)", id, pl.Seq, snap.Seq)
		}
		qs = append(qs, queued{id, s.Ticket, pl.Position})
	}
	if len(qs) != len(snap.Tickets) {
		t.Fatalf("%d sessions are queued, snapshot has %d tickets", len(qs), len(snap.Tickets))
	}
	slices.SortFunc(qs, func(a, b queued) int { return compare(a.ticket, b.ticket) })
	for i, q := range qs {
		if q.ticket != snap.Tickets[i] {
			t.Fatalf("queued tickets %v differ from snapshot %v", qs, snap.Tickets)
		}
		if q.pos != int64(i+1) {
			t.Fatalf("session %s (ticket %d) has position %d, want %d", q.id, q.ticket, q.pos, i+1)
		}
	}
	if st := stats(t, st, eventID); st.QueueLength != int64(len(snap.Tickets)) || st.Seq != snap.Seq {
		t.Fatalf("EventStats %+v disagree with the snapshot (%d tickets, seq %d)", st, len(snap.Tickets), snap.Seq)
	}
}

func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Recorder is a ChangeHandler that keeps what it is given, for tests of a
// store's change feed (Subscribe starts one).
type Recorder struct {
	eventID    string
	mu         sync.Mutex
	subscribed int
	changes    []queue.Change
	wake       chan struct{}
}

func (r *Recorder) Subscribed() {
	r.mu.Lock()
	r.subscribed++
	r.mu.Unlock()
	r.poke()
}

func (r *Recorder) Change(c queue.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	r.poke()
}

func (r *Recorder) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Subscribe subscribes a Recorder to eventID until the test ends, and
// returns once the subscription is established.
func Subscribe(t *testing.T, st queue.Store, eventID string) *Recorder {
	t.Helper()
	r := &Recorder{eventID: eventID, wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Subscribe(ctx, eventID, r) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Subscribe returned %v after its context was cancelled, want context.Canceled", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("Subscribe did not return after its context was cancelled")
		}
	})
	r.WaitFor(t, "the subscription", func() bool { return r.subscribed > 0 })
	return r
}

// WaitFor waits until cond (called with the recorder's lock held) holds.
func (r *Recorder) WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.wake:
		case <-deadline.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("gave up waiting for %s; received %d changes: %s", what, len(r.changes), formatChanges(r.changes))
		}
	}
}

// upTo waits for the change numbered seq and returns every change received
// so far, after checking they are numbered consecutively.
func (r *Recorder) upTo(t *testing.T, seq uint64) []queue.Change {
	t.Helper()
	r.WaitFor(t, fmt.Sprintf("change %d", seq), func() bool {
		return len(r.changes) > 0 && r.changes[len(r.changes)-1].Seq >= seq
	})
	r.mu.Lock()
	cs := slices.Clone(r.changes)
	r.mu.Unlock()
	for i := 1; i < len(cs); i++ {
		if cs[i].Seq != cs[i-1].Seq+1 {
			t.Fatalf("change seqs are not consecutive: %s", formatChanges(cs))
		}
	}
	if cs[len(cs)-1].Seq != seq {
		t.Fatalf("want changes up to seq %d, got: %s", seq, formatChanges(cs))
	}
	return cs
}

func formatChanges(cs []queue.Change) string {
	s := ""
	for _, c := range cs {
		s += fmt.Sprintf("\n\tseq %d %v len %d %v", c.Seq, c.Kind, c.QueueLength, c.Sessions)
	}
	return s
}

// wantChange is what a Change should say.
type wantChange struct {
	kind     queue.ChangeKind
	sessions []queue.ChangedSession
	length   int64
	at       time.Time
	deadline time.Time // for admissions
}

// checkChange compares a change with what was expected; sessions are
// compared in ticket order.
func checkChange(t *testing.T, eventID string, got queue.Change, want wantChange) {
	t.Helper()
	if got.EventID != eventID || got.Kind != want.kind || got.QueueLength != want.length ||
		!got.At.Equal(want.at) || !got.CheckoutDeadline.Equal(want.deadline) {
		t.Fatalf("change %d = {event %s, %v, length %d, at %v, deadline %v}, want {event %s, %v, length %d, at %v, deadline %v}",
			got.Seq, got.EventID, got.Kind, got.QueueLength, got.At, got.CheckoutDeadline,
			eventID, want.kind, want.length, want.at, want.deadline)
	}
	gs := slices.Clone(got.Sessions)
	ws := slices.Clone(want.sessions)
	byTicket := func(a, b queue.ChangedSession) int { return compare(a.Ticket, b.Ticket) }
	slices.SortFunc(gs, byTicket)
	slices.SortFunc(ws, byTicket)
	if !slices.ContainsFunc(ws, func(s queue.ChangedSession) bool { return s.Reason != 0 }) {
		// Expiry reasons are checked where a test names them (presence.go).
		for i := range gs {
			gs[i].Reason = 0
		}
	}
	if !slices.Equal(gs, ws) {
		t.Fatalf("change %d (%v) sessions = %v, want %v", got.Seq, got.Kind, gs, ws)
	}
}

func changedAs(st queue.Status, ss ...queue.Session) []queue.ChangedSession {
	out := make([]queue.ChangedSession, len(ss))
	for i, s := range ss {
		out[i] = queue.ChangedSession{ID: s.ID, UserID: s.UserID, Ticket: s.Ticket, Status: st}
	}
	return out
}

// replay applies changes to an empty waiting set, as a replica's view does,
// and returns the tickets still waiting, ascending.
func replay(cs []queue.Change) []uint64 {
	waiting := map[uint64]bool{}
	for _, c := range cs {
		for _, s := range c.Sessions {
			if s.Status == queue.StatusQueued {
				waiting[s.Ticket] = true
			} else {
				delete(waiting, s.Ticket)
			}
		}
	}
	out := make([]uint64, 0, len(waiting))
	for tk := range waiting {
		out = append(out, tk)
	}
	slices.Sort(out)
	return out
}

// WaitSubscribed waits until the subscription has been established n times
// (the first time, then once per reconnection).
func (r *Recorder) WaitSubscribed(t *testing.T, n int) {
	t.Helper()
	r.WaitFor(t, fmt.Sprintf("Subscribed call %d", n), func() bool { return r.subscribed >= n })
}

// WaitSession waits for a change that affected session id and returns it.
func (r *Recorder) WaitSession(t *testing.T, id string) queue.Change {
	t.Helper()
	var got queue.Change
	r.WaitFor(t, "a change for "+id, func() bool {
		for _, c := range r.changes {
			for _, s := range c.Sessions {
				if s.ID == id {
					got = c
					return true
				}
			}
		}
		return false
	})
	return got
}

// Changes returns a copy of every change received so far.
func (r *Recorder) Changes() []queue.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Change(nil), r.changes...)
}
