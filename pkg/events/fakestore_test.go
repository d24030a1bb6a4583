package events_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// fakeOutbox is a stand-in outbox that records changes as a store would. It
// hands idle claims back to any consumer, its own included, as Redis streams
// do.
type fakeOutbox struct {
	mu      sync.Mutex
	seq     map[string]uint64
	entries map[string][]*fakeEntry
	acked   map[string]bool
}

type fakeEntry struct {
	e         queue.OutboxEntry
	owner     string
	claimedAt time.Time
}

func newFakeOutbox() *fakeOutbox {
	return &fakeOutbox{seq: map[string]uint64{}, entries: map[string][]*fakeEntry{}, acked: map[string]bool{}}
}

// change records a change of the event and returns its record id.
func (f *fakeOutbox) change(eventID string, kind queue.ChangeKind, sessions ...queue.ChangedSession) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq[eventID]++
	seq := f.seq[eventID]
	c := queue.Change{EventID: eventID, Seq: seq, Kind: kind, Sessions: sessions, At: time.Now()}
	f.entries[eventID] = append(f.entries[eventID], &fakeEntry{e: queue.OutboxEntry{ID: strconv.FormatUint(seq, 10), Change: c}})
	return eventID + ":" + strconv.FormatUint(seq, 10)
}

func (f *fakeOutbox) Events(context.Context) ([]queue.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var evs []queue.Event
	for id := range f.seq {
		evs = append(evs, queue.Event{ID: id, State: queue.EventActive})
	}
	slices.SortFunc(evs, func(a, b queue.Event) int { return compareStrings(a.ID, b.ID) })
	return evs, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *fakeOutbox) ClaimOutbox(_ context.Context, eventID, consumer string, n int, minIdle time.Duration) ([]queue.OutboxEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var out []queue.OutboxEntry
	for _, fe := range f.entries[eventID] {
		if len(out) == n {
			break
		}
		if fe.owner == "" || now.Sub(fe.claimedAt) > minIdle {
			fe.owner, fe.claimedAt = consumer, now
			out = append(out, fe.e)
		}
	}
	return out, nil
}

func (f *fakeOutbox) AckOutbox(_ context.Context, eventID string, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries[eventID] = slices.DeleteFunc(f.entries[eventID], func(fe *fakeEntry) bool {
		return slices.Contains(ids, fe.e.ID)
	})
	return nil
}

func (f *fakeOutbox) OutboxLen(_ context.Context, eventID string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.entries[eventID])), nil
}
