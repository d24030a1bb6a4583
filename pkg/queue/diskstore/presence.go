package diskstore

import (
	"context"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// Presence is runtime state, told again by every stream's refresh, and is
// not logged; a presence-aware admission is logged as the admission it
// decided, and an Expire that spared held sessions present at their
// HeldUntil with those respites, so replaying either makes the same change
// whoever is present then.
// After a restart nobody is present until streams reconnect or visitors
// call; a head passed over meanwhile keeps its place and is admitted first
// once back.

// MarkPresent implements queue.PresenceStore.
func (s *Store) MarkPresent(ctx context.Context, eventID string, ids []string, until time.Time) error {
	return s.call(ctx, "", func(m *memstore.Store) *op {
		_ = m.MarkPresent(ctx, eventID, ids, until) // cannot fail
		return nil
	})
}

// AdmitPresent implements queue.PresenceStore.
func (s *Store) AdmitPresent(ctx context.Context, eventID string, now time.Time, limit int, p queue.PresenceRule) (out []queue.Session, err error) {
	cerr := s.call(ctx, eventID, func(m *memstore.Store) *op {
		var a memstore.Admission
		out, a, err = m.AdmitPresentOutcome(ctx, eventID, now, limit, p)
		if err != nil || !a.Changed() {
			return nil
		}
		return &op{kind: opAdmission, id: eventID, now: now, adm: a}
	})
	if cerr != nil {
		return nil, cerr
	}
	return out, err
}

func encodeAdmission(w *binenc.Writer, a memstore.Admission) {
	for _, ts := range [][]uint64{a.Admit, a.Hold} {
		w.Uvarint(uint64(len(ts)))
		for _, t := range ts {
			w.Uvarint(t)
		}
	}
	w.Time(a.HeldUntil)
	w.Uvarint(a.Cursor)
}

func decodeAdmission(r *binenc.Reader) memstore.Admission {
	var a memstore.Admission
	for _, ts := range []*[]uint64{&a.Admit, &a.Hold} {
		n := r.Uvarint()
		if n > uint64(r.Len()) {
			return memstore.Admission{} // r.Done fails on what is left
		}
		for ; n > 0 && r.Err() == nil; n-- {
			*ts = append(*ts, r.Uvarint())
		}
	}
	a.HeldUntil = r.Time()
	a.Cursor = r.Uvarint()
	return a
}

func encodeRespites(w *binenc.Writer, rs []memstore.Respite) {
	w.Uvarint(uint64(len(rs)))
	for _, r := range rs {
		w.Uvarint(r.Ticket)
		w.Time(r.Until)
	}
}

func decodeRespites(r *binenc.Reader) []memstore.Respite {
	n := r.Uvarint()
	if n > uint64(r.Len()) {
		return nil // r.Done fails on what is left
	}
	rs := make([]memstore.Respite, 0, n)
	for ; n > 0 && r.Err() == nil; n-- {
		rs = append(rs, memstore.Respite{Ticket: r.Uvarint(), Until: r.Time()})
	}
	return rs
}
