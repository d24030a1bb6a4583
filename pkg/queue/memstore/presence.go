package memstore

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/ticketset"
)

// presence is an event's presence state (queue.PresenceStore). Who is
// present belongs to the running process (replicas tell it again every
// refresh); which sessions are held, and until when, is state like any other
// (dumped, and logged by diskstore).
type presence struct {
	// until is when each session that was marked present stops being so
	// (Unix ns); pruned as admission walks past it.
	until map[sessionKey]int64
	// cursor is the highest ticket a walk has passed: every waiting ticket
	// at or below it is held, everything above it was never looked at.
	cursor uint64
	// held maps each held session's ticket to its HeldUntil (Unix ns).
	held map[uint64]int64
	// due orders held tickets by HeldUntil; entries of sessions no longer
	// held are skipped when they come up.
	due heldHeap
	// back are held tickets marked present since they were held: the first
	// to admit.
	back *ticketset.Set
}

// heldUntil is r's HeldUntil, unset unless r is queued and held.
func (e *event) heldUntil(r *rec) int64 {
	if r.status != queue.StatusQueued {
		return unset
	}
	if t, ok := e.pres.held[r.ticket]; ok {
		return t
	}
	return unset
}

// forgetPresence drops r's presence and hold when it leaves the queue.
func (e *event) forgetPresence(r *rec) {
	delete(e.pres.until, r.key)
	if _, ok := e.pres.held[r.ticket]; ok {
		delete(e.pres.held, r.ticket)
		if e.pres.back != nil {
			e.pres.back.Remove(r.ticket)
		}
	}
}

// MarkPresent implements queue.PresenceStore.
func (s *Store) MarkPresent(ctx context.Context, eventID string, ids []string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil
	}
	u := unixNano(until)
	for _, id := range ids {
		key, ok := keyOf(eventID, id)
		if !ok {
			continue
		}
		h, ok := e.byKey[key]
		if !ok || e.recs.at(h).status != queue.StatusQueued {
			continue
		}
		if e.pres.until == nil {
			e.pres.until = map[sessionKey]int64{}
		}
		if u > e.pres.until[key] {
			e.pres.until[key] = u
		}
		if t := e.recs.at(h).ticket; e.pres.held[t] != 0 {
			if e.pres.back == nil {
				e.pres.back = ticketset.New()
			}
			e.pres.back.Insert(t)
		}
	}
	return nil
}

// Admission is what one presence-aware admission decided. Applying it
// again to the same state makes the same change, whoever is present then:
// diskstore logs it instead of the presence it was decided on.
type Admission struct {
	// Admit are the tickets admitted, in order.
	Admit []uint64
	// Hold are the tickets passed over and held until HeldUntil.
	Hold      []uint64
	HeldUntil time.Time
	// Cursor is where the walk stopped.
	Cursor uint64
}

// Changed reports whether applying a changes anything.
func (a Admission) Changed() bool { return len(a.Admit) > 0 || len(a.Hold) > 0 }

// AdmitPresent implements queue.PresenceStore.
func (s *Store) AdmitPresent(ctx context.Context, eventID string, now time.Time, limit int, p queue.PresenceRule) ([]queue.Session, error) {
	out, _, err := s.AdmitPresentOutcome(ctx, eventID, now, limit, p)
	return out, err
}

// AdmitPresentOutcome is AdmitPresent that also returns what it decided.
func (s *Store) AdmitPresentOutcome(ctx context.Context, eventID string, now time.Time, limit int, p queue.PresenceRule) ([]queue.Session, Admission, error) {
	if p.Hold <= 0 || s.hasLanes(eventID) {
		// An event with lanes admits in the order its positions promise,
		// present or not (queue/lane.go).
		out, err := s.Admit(ctx, eventID, now, limit)
		a := Admission{}
		for _, ss := range out {
			a.Admit = append(a.Admit, ss.Ticket)
		}
		return out, a, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, n := s.admittable(eventID, now, limit)
	if n <= 0 {
		return nil, Admission{}, nil
	}
	a := e.choose(unixNano(now), n, limit, p.Grace)
	if len(a.Hold) > 0 {
		a.HeldUntil = now.Add(p.Hold)
	}
	return s.apply(e, now, a), a, nil
}

// ApplyAdmission makes the change a, returned by AdmitPresentOutcome on the
// same state, made.
func (s *Store) ApplyAdmission(ctx context.Context, eventID string, now time.Time, a Admission) ([]queue.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[eventID]
	if e == nil {
		return nil, nil
	}
	return s.apply(e, now, a), nil
}

// choose decides an admission of at most n sessions, passing over at most
// limit absent ones; a session is present for grace after it joined. It changes nothing but runtime presence bookkeeping.
func (e *event) choose(now, n int64, limit int, grace time.Duration) Admission {
	p := &e.pres
	a := Admission{Cursor: p.cursor}
	present := func(t uint64) bool {
		r := e.recs.at(e.byTicket[t])
		u, ok := p.until[r.key]
		if ok && u <= now {
			delete(p.until, r.key)
		}
		return u > now || addNano(r.joinedAt, int64(grace)) > now
	}
	// Held sessions that came back go first: every session not yet passed
	// over is behind them. One that left again, or ended, is dropped from
	// back; it stays held.
	for p.back != nil && int64(len(a.Admit)) < n {
		t, ok := p.back.Min()
		if !ok {
			break
		}
		p.back.Remove(t)
		if _, held := p.held[t]; held && e.waiting.Contains(t) && present(t) {
			a.Admit = append(a.Admit, t)
		}
	}
	// Then the walk from the cursor.
	for int64(len(a.Admit)) < n && len(a.Hold) < limit {
		t, ok := e.waiting.Select(e.waiting.Rank(a.Cursor + 1))
		if !ok {
			break
		}
		a.Cursor = t
		if present(t) {
			a.Admit = append(a.Admit, t)
		} else {
			a.Hold = append(a.Hold, t)
		}
	}
	return a
}

// apply makes the change a describes and announces its admissions.
func (s *Store) apply(e *event, now time.Time, a Admission) []queue.Session {
	until := unixNano(a.HeldUntil)
	for _, t := range a.Hold {
		if _, ok := e.byTicket[t]; !ok {
			continue
		}
		if e.pres.held == nil {
			e.pres.held = map[uint64]int64{}
		}
		e.pres.held[t] = until
		e.pres.due.push(heldEntry{until: until, ticket: t})
	}
	e.pres.cursor = max(e.pres.cursor, a.Cursor)
	if len(a.Admit) == 0 {
		return nil
	}
	deadline := now.Add(e.cfg.CheckoutWindow)
	out := make([]queue.Session, 0, len(a.Admit))
	cs := make([]queue.ChangedSession, 0, len(a.Admit))
	for _, t := range a.Admit {
		h, ok := e.byTicket[t]
		if !ok {
			continue
		}
		e.drew()
		ss := e.admitOne(h, now, deadline)
		out = append(out, ss)
		cs = append(cs, changedSession(ss))
	}
	if len(out) > 0 {
		e.took(now, len(out))
		s.announce(e, queue.Change{Kind: queue.ChangeAdmitted, At: now, Sessions: cs, CheckoutDeadline: deadline})
	}
	return out
}

// heldDue returns a held session whose HeldUntil is not after now.
func (e *event) heldDue(now int64) (handle, bool) {
	p := &e.pres
	for p.due.len() > 0 {
		top := p.due.items[0]
		if top.until > now {
			return 0, false
		}
		if u, ok := p.held[top.ticket]; ok && u == top.until {
			return e.byTicket[top.ticket], true
		}
		p.due.pop() // no longer held, or held again since
	}
	return 0, false
}

// heldEntry is one held ticket in the due heap.
type heldEntry struct {
	until  int64
	ticket uint64
}

// heldHeap is a min-heap of held tickets by HeldUntil, then ticket.
type heldHeap struct{ items []heldEntry }

func (h *heldHeap) len() int { return len(h.items) }

func (h *heldHeap) less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.until < b.until || a.until == b.until && a.ticket < b.ticket
}

func (h *heldHeap) push(x heldEntry) {
	h.items = append(h.items, x)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *heldHeap) pop() {
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= last {
			break
		}
		if r := c + 1; r < last && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
}

// expiryReason is why r, a live session that Expire found due, expires.
func expiryReason(r *rec) queue.ExpiryReason {
	if r.status == queue.StatusReady {
		return queue.ExpiredCheckoutWindow
	}
	return queue.ExpiredQueueTTL
}

func expiredSession(s queue.Session, reason queue.ExpiryReason) queue.ChangedSession {
	cs := changedSession(s)
	cs.Reason = reason
	return cs
}

// dumpPresence writes the event's holds: the cursor, then the held tickets
// in ticket order with their HeldUntil. Who is present is not dumped.
func (e *event) dumpPresence(w *binenc.Writer) {
	w.Uvarint(e.pres.cursor)
	ts := slices.Sorted(maps.Keys(e.pres.held))
	w.Uvarint(uint64(len(ts)))
	for _, t := range ts {
		w.Uvarint(t)
		w.Varint(e.pres.held[t])
	}
}

func (e *event) restorePresence(r *binenc.Reader) {
	e.pres.cursor = r.Uvarint()
	for n := r.Uvarint(); n > 0 && r.Err() == nil; n-- {
		t, until := r.Uvarint(), r.Varint()
		if e.pres.held == nil {
			e.pres.held = map[uint64]int64{}
		}
		e.pres.held[t] = until
		e.pres.due.push(heldEntry{until: until, ticket: t})
	}
}

// Respite is a held session that was present when its HeldUntil came: it
// keeps its place (first in line, waiting for a free slot) until Until, the
// end of its presence then, and expires at the first HeldUntil it is absent.
type Respite struct {
	Ticket uint64
	Until  time.Time
}

// spareFunc says until when r, a held session whose HeldUntil has come, is
// present (Unix ns); unset or a time not after now: it expires.
type spareFunc func(e *event, r *rec) int64

// livePresence is who the store knows to be present.
func livePresence(e *event, r *rec) int64 {
	if u, ok := e.pres.until[r.key]; ok {
		return u
	}
	return unset
}

// expireHeld ends, as absent, at most limit held sessions whose HeldUntil
// has come; one present then gets a respite instead.
func (e *event) expireHeld(now time.Time, limit int, spare spareFunc) ([]queue.Session, []queue.ChangedSession, []Respite) {
	at := unixNano(now)
	var out []queue.Session
	var cs []queue.ChangedSession
	var respites []Respite
	for len(out) < limit {
		h, ok := e.heldDue(at)
		if !ok {
			break
		}
		r := e.recs.at(h)
		if u := spare(e, r); u > at {
			e.pres.held[r.ticket] = u
			e.pres.due.push(heldEntry{until: u, ticket: r.ticket})
			respites = append(respites, Respite{Ticket: r.ticket, Until: timeOf(u)})
			continue
		}
		e.end(h, queue.StatusExpired, now)
		ss := e.session(r)
		out = append(out, ss)
		cs = append(cs, expiredSession(ss, queue.ExpiredAbsent))
	}
	return out, cs, respites
}

// ExpireOutcome is Expire that also returns the respites it gave.
func (s *Store) ExpireOutcome(ctx context.Context, eventID string, now time.Time, limit int) ([]queue.Session, []Respite, error) {
	out, rs := s.expire(eventID, now, limit, livePresence)
	return out, rs, nil
}

// ExpireWith is Expire that gives exactly the respites rs, returned by
// ExpireOutcome on the same state, whoever is present now.
func (s *Store) ExpireWith(ctx context.Context, eventID string, now time.Time, limit int, rs []Respite) ([]queue.Session, error) {
	until := make(map[uint64]int64, len(rs))
	for _, r := range rs {
		until[r.Ticket] = unixNano(r.Until)
	}
	out, _ := s.expire(eventID, now, limit, func(_ *event, r *rec) int64 {
		if u, ok := until[r.ticket]; ok {
			return u
		}
		return unset
	})
	return out, nil
}
