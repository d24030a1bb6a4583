package fanout

import "time"

// Parking keeps the streams the cadence holds back out of the flushes. With
// 100,000 streams open and the queue moving every 100ms, most streams are
// inside their interval at any flush; passing each of them only to find it
// held back cost a cache miss per stream per flush (an eighth of a core at
// 100,000 streams). A held stream is parked instead, in a slot of a timing
// wheel keyed by when its next message may go, and a flush passes only the
// streams in the walk list (those that may be sent something now: the
// front of the line, streams not started, re-read or in a fair start) and
// those whose slots came due. A status change (READY, LEFT, ...) reaches a
// parked stream at once through statusChanged, as before.
//
// A parked stream is not told of the changes it misses; when it leaves its
// slot, heldAt (the oldest change held back from it) is found from the
// marks: the flushes that showed changes, in order.

// wheelSlots bounds the slots in use: a slot spans MaxInterval ÷ wheelSlots,
// at least minSlotSpan.
const (
	wheelSlots  = 512
	minSlotSpan = 10 * time.Millisecond
)

// slot is a wheel slot's streams.
type slot struct {
	ws []*Watcher
	// minSeq is the oldest flush that parked one of them: marks since then
	// are kept. It is not raised when a stream leaves early.
	minSeq uint64
}

// changeMark is a flush that showed changes: the oldest change it showed
// was made at (Unix ns).
type changeMark struct {
	flush uint64
	at    int64
}

// wheel is a view's walk list and parked streams. Guarded by the view's mu.
type wheel struct {
	walk  []*Watcher
	slots map[int64]*slot
	span  int64 // of a slot, ns
	// flushes counts the view's flushes; marks are those that showed changes
	// since the oldest parked stream's.
	flushes uint64
	marks   []changeMark
	// due is the end of the earliest slot in use (Unix ns; 0: none).
	due int64
	// counts are the hub's: streams parked now, messages held back.
	counts *cadenceCounts
}

func newWheel(maxInterval time.Duration, counts *cadenceCounts) wheel {
	return wheel{slots: map[int64]*slot{}, span: int64(max(minSlotSpan, maxInterval/wheelSlots)), counts: counts}
}

// notListed marks a watcher in neither the walk list nor a slot.
const notListed = -1

// add puts a new watcher in the walk list.
func (k *wheel) add(w *Watcher) {
	w.parkKey, w.parkIdx = 0, len(k.walk)
	k.walk = append(k.walk, w)
}

// remove takes w out of the walk list or its slot.
func (k *wheel) remove(w *Watcher) {
	if w.parkIdx == notListed {
		return
	}
	if w.parkKey == 0 {
		k.walk = cut(k.walk, w.parkIdx)
	} else if p := k.slots[w.parkKey]; p != nil {
		k.counts.parked.Add(-1)
		if p.ws = cut(p.ws, w.parkIdx); len(p.ws) == 0 {
			delete(k.slots, w.parkKey)
		}
	}
	w.parkKey, w.parkIdx = 0, notListed
}

// cut removes ws[i], moving the last one into its place.
func cut(ws []*Watcher, i int) []*Watcher {
	last := len(ws) - 1
	if i != last {
		ws[i] = ws[last]
		ws[i].parkIdx = i
	}
	ws[last] = nil
	return ws[:last]
}

// park moves w to the slot in which its next message is due.
func (k *wheel) park(w *Watcher) {
	key := (w.nextPosAt + k.span - 1) / k.span // its slot ends at or after nextPosAt
	if w.parkKey == key && w.parkIdx != notListed {
		return
	}
	k.remove(w)
	p := k.slots[key]
	if p == nil {
		p = &slot{minSeq: k.flushes}
		k.slots[key] = p
	}
	w.parkKey, w.parkIdx, w.parkSeq = key, len(p.ws), k.flushes
	p.ws = append(p.ws, w)
	k.counts.parked.Add(1)
	if end := key * k.span; k.due == 0 || end < k.due {
		k.due = end
	}
}

// heldSince is when the oldest change a stream parked at flush seq missed
// was made (Unix ns), or 0 when it missed none.
func (k *wheel) heldSince(seq uint64) int64 {
	lo, hi := 0, len(k.marks)
	for lo < hi {
		m := (lo + hi) / 2
		if k.marks[m].flush <= seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(k.marks) {
		return 0
	}
	return k.marks[lo].at
}

// begin starts a flush: it moves the streams of the slots that came due to
// the walk list, notes the changes the flush shows (changedAt, zero for
// none), and drops the marks no parked stream needs. The streams leave
// their slots before the flush's own mark: the flush shows them its
// changes, so they did not miss them (held back from them, the cadence
// would send a quiet crowd's first change at once, not at each stream's
// phase).
func (k *wheel) begin(now, changedAt int64) {
	k.flushes++
	k.due = 0
	keep := k.flushes
	for key, p := range k.slots {
		if key*k.span > now {
			keep = min(keep, p.minSeq)
			if end := key * k.span; k.due == 0 || end < k.due {
				k.due = end
			}
			continue
		}
		delete(k.slots, key)
		k.counts.parked.Add(-int64(len(p.ws)))
		for _, w := range p.ws {
			k.unparked(w)
			k.add(w)
		}
	}
	if changedAt != 0 {
		k.marks = append(k.marks, changeMark{flush: k.flushes, at: changedAt})
	}
	drop := 0
	for drop < len(k.marks) && k.marks[drop].flush <= keep {
		drop++
	}
	k.marks = append(k.marks[:0], k.marks[drop:]...)
}

// unparked gives w, leaving its slot, the time of the oldest change it
// missed there.
func (k *wheel) unparked(w *Watcher) {
	if w.heldAt == 0 {
		if w.heldAt = k.heldSince(w.parkSeq); w.heldAt != 0 {
			k.counts.held.Add(1)
		}
	}
}

// wake moves w from its slot to the walk list, so the next flush looks at
// it: something a parked stream does not wait for (a re-read, a heartbeat
// standing in for a held state) happened to it.
func (k *wheel) wake(w *Watcher) {
	if w.parkIdx == notListed || w.parkKey == 0 {
		return
	}
	k.unparked(w)
	k.remove(w)
	k.add(w)
}

// missed reports whether a parked w was held back a change.
func (k *wheel) missed(w *Watcher) bool {
	return w.parkIdx != notListed && w.parkKey != 0 && k.heldSince(w.parkSeq) != 0
}

// parkable reports whether a flush may leave w until nextPosAt: it is held
// back until then, and nothing the cadence never holds back (a status, a
// fair-start placement, a re-read) can reach it meanwhile other than
// through statusChanged. Called with v.mu held.
func (v *eventView) parkable(w *Watcher, now int64) bool {
	return w.started && !w.stale && !w.final && w.nextPosAt > now &&
		w.session.Status == w.last.status && w.fair == (fairState{})
}

// place puts w where the next flushes should find it after a refresh: in
// no list once its stream has had its final state, parked while held back,
// otherwise in the walk list. Called with v.mu held.
func (v *eventView) place(w *Watcher, now int64) {
	switch {
	case w.final:
		v.wheel.remove(w)
	case v.parkable(w, now):
		v.wheel.park(w)
	case w.parkKey != 0 || w.parkIdx == notListed:
		v.wheel.remove(w)
		v.wheel.add(w)
	}
}
