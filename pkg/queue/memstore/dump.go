package memstore

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

// Dump and Restore carry the whole state of a store (except subscriptions
// and outbox claims, which belong to the running process) to a byte slice
// and back, for diskstore's snapshots. A restored store behaves exactly as
// the dumped one would, call for call: that is what lets diskstore replay
// its log on top of a snapshot.

const dumpVersion = 5

// dumpVersionNoLanes is the version before lanes were dumped: every session
// restores in the unnamed lane, the round-robin at zeros.
const dumpVersionNoLanes = 4

// dumpVersionNoFigures is the version before the events' figures (totals,
// recent admissions and waits) were dumped: it restores with none.
const dumpVersionNoFigures = 3

// dumpVersionNoRate is the version before admission-rate buckets and
// deleted events' tombstones were dumped: it restores with fresh buckets.
const dumpVersionNoRate = 2

// dumpVersionNoPresence is the version before held places were dumped: it
// restores with none.
const dumpVersionNoPresence = 1

// dumpBytesPerSession is about what a session takes in a dump, with a
// short user id.
const dumpBytesPerSession = 112

// Dump encodes the store's state. It holds the store's lock while it
// encodes: about 0.3 s for a million sessions. The encoding is canonical:
// two stores that behave alike dump alike.
func (s *Store) Dump() []byte { return s.dumpAt(dumpVersion) }

// dumpAt is Dump in the layout of version v: dumpVersion, or
// dumpVersionNoLanes for tests of restoring older dumps.
func (s *Store) dumpAt(v byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		n += len(e.byKey) + len(e.out.entries)
	}
	// Sized up front: growing a 100 MB buffer by doubling copies it twice
	// over, under the lock.
	w := &binenc.Writer{B: make([]byte, 0, 1<<12+n*dumpBytesPerSession)}
	w.Byte(v)
	w.Bool(s.outbox)
	ids := slices.Sorted(maps.Keys(s.lastSeq))
	w.Uvarint(uint64(len(ids)))
	for _, id := range ids {
		w.String(id)
		w.Uvarint(s.lastSeq[id])
	}
	ids = slices.Sorted(maps.Keys(s.events))
	w.Uvarint(uint64(len(ids)))
	for _, id := range ids {
		e := s.events[id]
		_, live := s.live[id]
		e.dump(w, live, v)
	}
	w.Uvarint(uint64(len(s.idle)))
	for _, en := range s.idle {
		w.String(en.e.cfg.ID)
		w.Bool(s.events[en.e.cfg.ID] != en.e) // an entry of a forgotten event
		w.Uvarint(en.gen)
		w.Varint(en.since)
		w.Varint(en.due)
	}
	return w.B
}

func (e *event) dump(w *binenc.Writer, live bool, v byte) {
	w.Event(e.cfg)
	if e.cfg.FairStart.IsPlaced() {
		// Only placed fair starts have an order: older dumps have none.
		w.Uvarint(uint64(len(e.order)))
		for _, id := range e.order {
			w.String(id)
		}
	}
	if v >= dumpVersion {
		// Lane names come before the sessions that refer to them.
		w.Uvarint(uint64(len(e.lanes.names)))
		for _, n := range e.lanes.names {
			w.String(n)
		}
	}
	w.Uvarint(e.lastTicket)
	w.Uvarint(e.seq)
	w.Bool(e.auto)
	w.Uvarint(e.idleGen)
	w.Bool(live)
	// Sessions by status, each group in ticket order: the waiting set gives
	// the queued ones sorted; the others are usually few.
	w.Uvarint(uint64(e.waiting.Len()))
	e.waiting.Ascend(func(t uint64) bool {
		e.recs.at(e.byTicket[t]).dump(w, v)
		return true
	})
	for _, h := range []*sessionHeap{&e.admittedHeap, &e.endedHeap} {
		hs := slices.Clone(h.items)
		slices.SortFunc(hs, func(a, b handle) int { return cmp.Compare(e.recs.at(a).ticket, e.recs.at(b).ticket) })
		w.Uvarint(uint64(len(hs)))
		for _, x := range hs {
			e.recs.at(x).dump(w, v)
		}
	}
	n := 0
	for _, en := range e.out.entries {
		if !en.acked {
			n++
		}
	}
	w.Uvarint(uint64(n))
	for _, en := range e.out.entries {
		if !en.acked {
			w.Change(en.Change)
		}
	}
	e.dumpPresence(w)
	w.Bool(e.deleted)
	w.Uvarint(math.Float64bits(e.rate.Tokens))
	w.Time(e.rate.At)
	if v > dumpVersionNoFigures {
		e.fig.dump(w)
	}
	if v < dumpVersion {
		return
	}
	w.Uvarint(uint64(e.lanes.rr.For))
	w.Uvarint(uint64(len(e.lanes.rr.Current)))
	for _, c := range e.lanes.rr.Current {
		w.Varint(c)
	}
}

func (r *rec) dump(w *binenc.Writer, v byte) {
	w.Bytes(r.key[:])
	w.Bytes(r.user[:r.userLen])
	w.Uvarint(r.ticket)
	w.Byte(byte(r.status))
	for _, t := range []int64{r.joinedAt, r.expiresAt, r.admittedAt, r.deadline, r.endedAt, r.purgeAt} {
		w.Varint(t)
	}
	if v >= dumpVersion {
		w.Byte(r.lane)
	}
}

// Restore returns a store in the state b, made by Dump, describes, with
// cfg's clock. Whether it records changes in its outbox is as dumped
// (SetOutbox changes it).
func Restore(cfg Config, b []byte) (*Store, error) {
	s := New(cfg)
	r := binenc.NewReader(b)
	v := r.Byte()
	if v < dumpVersionNoPresence || v > dumpVersion {
		return nil, fmt.Errorf("memstore: dump version %d, want %d", v, dumpVersion)
	}
	s.outbox = r.Bool()
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- {
		id := r.String()
		s.lastSeq[id] = r.Uvarint()
	}
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- {
		if err := s.restoreEvent(r, v); err != nil {
			return nil, err
		}
	}
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- {
		id, ghost := r.String(), r.Bool()
		en := idleEntry{gen: r.Uvarint(), since: r.Varint(), due: r.Varint()}
		en.e = s.events[id]
		if ghost || en.e == nil {
			// Stale entries are skipped when they come up; kept, so that
			// entries with equal due times come up in the same order.
			en.e = &event{cfg: queue.Event{ID: id}}
		}
		s.idle = append(s.idle, en)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("memstore: restore: %w", err)
	}
	return s, nil
}

func (s *Store) restoreEvent(r *binenc.Reader, version byte) error {
	cfg := r.Event()
	seq, hadSeq := s.lastSeq[cfg.ID]
	e := s.newEvent(cfg) // takes lastSeq[cfg.ID], which must stay
	if hadSeq {
		s.lastSeq[cfg.ID] = seq
	}
	if cfg.FairStart.IsPlaced() {
		n := r.Uvarint()
		if n > uint64(r.Len()) {
			return binenc.ErrCorrupt
		}
		e.order = make([]string, 0, n)
		for ; n > 0 && r.Err() == nil; n-- {
			e.order = append(e.order, r.String())
		}
	}
	if version >= dumpVersion {
		n := r.Uvarint()
		if n > 256 {
			return binenc.ErrCorrupt
		}
		for ; n > 0 && r.Err() == nil; n-- {
			e.laneIndex(r.String())
		}
	}
	e.lastTicket = r.Uvarint()
	e.seq = r.Uvarint()
	e.auto = r.Bool()
	e.idleGen = r.Uvarint()
	live := r.Bool()
	for group := range 3 {
		n := r.Uvarint()
		if n > uint64(r.Len()) {
			return binenc.ErrCorrupt
		}
		if group == 0 {
			e.waiting = ticketset.New()
			e.byTicket = make(map[uint64]handle, n)
		}
		for ; n > 0 && r.Err() == nil; n-- {
			if err := e.restoreRec(r, group, version); err != nil {
				return err
			}
		}
	}
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- {
		e.out.append(r.Change())
	}
	if version != dumpVersionNoPresence {
		e.restorePresence(r)
	}
	if version > dumpVersionNoRate {
		e.deleted = r.Bool()
		e.rate = queue.RateBucket{Tokens: math.Float64frombits(r.Uvarint()), At: r.Time()}
	}
	if version > dumpVersionNoFigures {
		if err := e.fig.restore(r); err != nil {
			return err
		}
	}
	if version >= dumpVersion {
		e.lanes.rr.For = lanes.Set(r.Uvarint())
		n := r.Uvarint()
		if n > lanes.MaxLanes {
			return binenc.ErrCorrupt
		}
		for ; n > 0 && r.Err() == nil; n-- {
			e.lanes.rr.Current = append(e.lanes.rr.Current, r.Varint())
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	s.events[cfg.ID] = e
	if live {
		s.live[cfg.ID] = e
	}
	return nil
}

var errBadRecord = errors.New("memstore: restore: a session does not fit its group")

// restoreRec reads one session of group 0 (queued), 1 (ready) or 2 (ended).
func (e *event) restoreRec(r *binenc.Reader, group int, version byte) error {
	h := e.recs.alloc()
	x := e.recs.at(h)
	key, user := r.Bytes(), r.Bytes()
	if len(key) != len(x.key) || len(user) > len(x.user) {
		return binenc.ErrCorrupt
	}
	copy(x.key[:], key)
	x.userLen = uint8(copy(x.user[:], user))
	x.ticket = r.Uvarint()
	x.status = queue.Status(r.Byte())
	for _, t := range []*int64{&x.joinedAt, &x.expiresAt, &x.admittedAt, &x.deadline, &x.endedAt, &x.purgeAt} {
		*t = r.Varint()
	}
	if version >= dumpVersion {
		x.lane = r.Byte()
		if int(x.lane) >= max(1, len(e.lanes.names)) {
			return binenc.ErrCorrupt
		}
	}
	x.heapIndex = -1
	if r.Err() != nil {
		return r.Err()
	}
	e.byKey[x.key] = h
	switch {
	case group == 0 && x.status == queue.StatusQueued:
		e.waiting.Insert(x.ticket)
		e.enqueueLane(x)
		e.byTicket[x.ticket] = h
		e.queuedHeap.add(h)
		e.live.add(x.userID(), h)
	case group == 1 && x.status == queue.StatusReady:
		e.admittedHeap.add(h)
		e.processing++
		e.live.add(x.userID(), h)
	case group == 2 && !x.status.Live() && x.status != 0:
		e.endedHeap.add(h)
	default:
		return errBadRecord
	}
	return nil
}
