package memstore

import (
	"container/heap"
	"time"
)

// sessionHeap orders sessions by one of their deadlines, ties by ticket, and
// lets a session be removed from the middle when it ends early. A session's
// heapIndex is its place in whichever heap holds it (at most one).
type sessionHeap struct {
	items []*session
	key   func(*session) time.Time
}

func (h *sessionHeap) Len() int { return len(h.items) }

func (h *sessionHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if ka, kb := h.key(a), h.key(b); !ka.Equal(kb) {
		return ka.Before(kb)
	}
	return a.Ticket < b.Ticket
}

func (h *sessionHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}

// Push and Pop are for container/heap only; use add and remove.
func (h *sessionHeap) Push(x any) {
	s := x.(*session)
	s.heapIndex = len(h.items)
	h.items = append(h.items, s)
}

func (h *sessionHeap) Pop() any {
	n := len(h.items) - 1
	s := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	s.heapIndex = -1
	return s
}

func (h *sessionHeap) add(s *session) { heap.Push(h, s) }

func (h *sessionHeap) remove(s *session) { heap.Remove(h, s.heapIndex) }

// due returns the earliest session whose key is not after now, or nil.
func (h *sessionHeap) due(now time.Time) *session {
	if len(h.items) == 0 || h.key(h.items[0]).After(now) {
		return nil
	}
	return h.items[0]
}
