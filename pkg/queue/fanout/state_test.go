package fanout

import (
	"slices"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// joined is the change of a session with ticket joining a queue of n.
func joined(seq, ticket uint64, n int64) queue.Change {
	return queue.Change{Kind: queue.ChangeJoined, Seq: seq, QueueLength: n,
		Sessions: []queue.ChangedSession{{ID: "e~" + string(rune('a'+ticket)), Ticket: ticket, Status: queue.StatusQueued}}}
}

func admitted(seq, ticket uint64, n int64, at time.Time) queue.Change {
	return queue.Change{Kind: queue.ChangeAdmitted, Seq: seq, QueueLength: n, At: at,
		Sessions: []queue.ChangedSession{{Ticket: ticket, Status: queue.StatusReady}}}
}

// synced is a state that has subscribed and read a snapshot of tickets at seq.
func synced(t *testing.T, seq uint64, tickets ...uint64) *state {
	t.Helper()
	s := newState(t0)
	s.resubscribed()
	if !s.wantsResync() {
		t.Fatal("a new subscription must ask for a snapshot")
	}
	if regressed, _ := s.reset(queue.Snapshot{Tickets: tickets, Seq: seq}); regressed {
		t.Fatal("first snapshot regressed")
	}
	if s.wantsResync() {
		t.Fatal("still wants a resync after a snapshot")
	}
	return s
}

func seqs(cs []queue.Change) []uint64 {
	var out []uint64
	for _, c := range cs {
		out = append(out, c.Seq)
	}
	return out
}

func TestStateNeedsSubscriptionBeforeSnapshot(t *testing.T) {
	s := newState(t0)
	if s.wantsResync() {
		t.Fatal("a snapshot before the subscription could miss the changes between them")
	}
	if applied := s.receive([]queue.Change{joined(1, 1, 1)}); applied != nil {
		t.Fatalf("applied %v before any snapshot", seqs(applied))
	}
	if s.covers(0) {
		t.Fatal("memory covers a read before it is synced")
	}
}

func TestStateAppliesInOrderAndSkipsDuplicates(t *testing.T) {
	s := synced(t, 2, 1, 2)
	applied := s.receive([]queue.Change{joined(2, 2, 2), joined(3, 3, 3), joined(3, 3, 3), joined(4, 4, 4)})
	if got := seqs(applied); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("applied %v, want [3 4]", got)
	}
	if pos, ok := s.position(4, ""); !ok || pos != 4 || s.queueLength() != 4 {
		t.Fatalf("ticket 4 at %d (%t) of %d, want 4 of 4", pos, ok, s.queueLength())
	}
	if !s.covers(4) || s.covers(5) {
		t.Fatal("covers: want through seq 4 only")
	}
	leave := queue.Change{Kind: queue.ChangeLeft, Seq: 5, QueueLength: 3,
		Sessions: []queue.ChangedSession{{Ticket: 1, Status: queue.StatusLeft}}}
	s.receive([]queue.Change{leave})
	if pos, _ := s.position(4, ""); pos != 3 {
		t.Fatalf("after the head left, ticket 4 at %d, want 3", pos)
	}
	if _, ok := s.position(1, ""); ok {
		t.Fatal("a ticket that left still has a position")
	}
}

func TestStateGapAsksForResyncAndKeepsLaterChanges(t *testing.T) {
	s := synced(t, 1, 1)
	if applied := s.receive([]queue.Change{joined(3, 3, 3)}); applied != nil {
		t.Fatalf("applied %v across a gap", seqs(applied))
	}
	if !s.wantsResync() || len(s.findings()) != 1 {
		t.Fatal("a gap must ask for a resync, once, and say why")
	}
	// The snapshot covers seq 2; the buffered change 3 follows it.
	regressed, applied := s.reset(queue.Snapshot{Tickets: []uint64{1, 2}, Seq: 2})
	if regressed || !slices.Equal(seqs(applied), []uint64{3}) || s.queueLength() != 3 {
		t.Fatalf("after the snapshot: regressed %t, applied %v, length %d", regressed, seqs(applied), s.queueLength())
	}
}

func TestStateLengthMismatchTrustsTheStore(t *testing.T) {
	s := synced(t, 1, 1)
	s.receive([]queue.Change{joined(2, 2, 5)}) // the store says 5 wait; memory has 2
	if !s.wantsResync() {
		t.Fatal("a queue length that differs from the store's must ask for a resync")
	}
	if f := s.findings(); len(f) != 1 || !f[0].warn {
		t.Fatalf("findings %+v, want one warning", f)
	}
}

func TestStateStoreAheadIsSuspectedThenResynced(t *testing.T) {
	s := synced(t, 5, 1)
	grace := time.Second
	if !s.storeSeq(6, t0) {
		t.Fatal("a store ahead of memory must start a suspicion")
	}
	if s.storeSeq(7, t0) {
		t.Fatal("a pending suspicion must not restart its grace period")
	}
	s.checkSuspect(t0.Add(grace/2), grace)
	if s.wantsResync() {
		t.Fatal("resync before the grace period ended")
	}
	s.checkSuspect(t0.Add(grace), grace)
	if !s.wantsResync() {
		t.Fatal("a suspicion that outlived its grace must resync")
	}
}

func TestStateSuspicionClearsWhenTheFeedCatchesUp(t *testing.T) {
	s := synced(t, 1, 1)
	s.storeSeq(2, t0)
	s.receive([]queue.Change{joined(2, 2, 2)})
	s.checkSuspect(t0.Add(time.Hour), time.Second)
	if s.wantsResync() || s.suspectSeq != 0 {
		t.Fatal("the change in flight arrived; no resync is needed")
	}
}

func TestStateStoreBehindMeansRegression(t *testing.T) {
	s := synced(t, 9, 1, 2)
	s.storeSeq(3, t0)
	if !s.wantsResync() {
		t.Fatal("a store sequence behind memory must resync")
	}
	if regressed, _ := s.reset(queue.Snapshot{Tickets: []uint64{1}, Seq: 3}); !regressed {
		t.Fatal("a snapshot behind memory must report the store's regression")
	}
}

func TestStateCountsEachAdmissionOnce(t *testing.T) {
	s := synced(t, 1, 1, 2)
	at := t0.Add(10 * time.Second)
	c := admitted(2, 1, 1, at)
	s.receive([]queue.Change{c})
	s.receive([]queue.Change{c}) // redelivered
	// A snapshot that already covers it, then the feed's copy: still once.
	s.resubscribed()
	s.reset(queue.Snapshot{Tickets: []uint64{2}, Seq: 2})
	s.receive([]queue.Change{c})
	if got := s.rate.perSecond(at); got != 0.1 {
		t.Fatalf("rate %v, want one admission in 10s", got)
	}
}
