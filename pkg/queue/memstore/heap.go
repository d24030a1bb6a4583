package memstore

// sessionHeap orders sessions by one of their deadlines, ties by ticket, and
// lets a session be removed from the middle when it ends early. A record's
// heapIndex is its place in whichever heap holds it (at most one).
type sessionHeap struct {
	recs  *records
	key   func(*rec) int64
	items []handle
}

func (h *sessionHeap) less(i, j int) bool {
	a, b := h.recs.at(h.items[i]), h.recs.at(h.items[j])
	if ka, kb := h.key(a), h.key(b); ka != kb {
		return ka < kb
	}
	return a.ticket < b.ticket
}

func (h *sessionHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.recs.at(h.items[i]).heapIndex = int32(i)
	h.recs.at(h.items[j]).heapIndex = int32(j)
}

func (h *sessionHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down reports whether the item at i moved.
func (h *sessionHeap) down(i int) bool {
	start, n := i, len(h.items)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

func (h *sessionHeap) add(x handle) {
	i := len(h.items)
	h.items = append(h.items, x)
	h.recs.at(x).heapIndex = int32(i)
	h.up(i)
}

func (h *sessionHeap) remove(x handle) {
	i, last := int(h.recs.at(x).heapIndex), len(h.items)-1
	if i != last {
		h.swap(i, last)
	}
	h.items = h.items[:last]
	h.recs.at(x).heapIndex = -1
	if i != last && !h.down(i) {
		h.up(i)
	}
}

// due returns the earliest session whose key is not after now.
func (h *sessionHeap) due(now int64) (handle, bool) {
	if len(h.items) == 0 || h.key(h.recs.at(h.items[0])) > now {
		return 0, false
	}
	return h.items[0], true
}

func (h *sessionHeap) len() int { return len(h.items) }

// minKey is the earliest key; the heap must not be empty.
func (h *sessionHeap) minKey() int64 { return h.key(h.recs.at(h.items[0])) }
