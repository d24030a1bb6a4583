package diskstore

import (
	"context"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// The admin API's changes, each logged as one record with its inputs.

// UpdateEvent implements queue.EventAdminStore.
func (s *Store) UpdateEvent(ctx context.Context, u queue.EventUpdate) (out queue.Event, err error) {
	cerr := s.call(ctx, u.Event.ID, func(m *memstore.Store) *op {
		out, err = m.UpdateEvent(ctx, u)
		if err != nil {
			return nil
		}
		return &op{kind: opUpdateEvent, event: u.Event, fields: u.Fields}
	})
	if cerr != nil {
		return queue.Event{}, cerr
	}
	return out, err
}

// DeleteEvent implements queue.EventAdminStore. A crash between two calls
// leaves the event closed with fewer live sessions: the operator deletes it
// again.
func (s *Store) DeleteEvent(ctx context.Context, id string, now time.Time, force bool, limit int) (ended []queue.Session, done bool, err error) {
	cerr := s.call(ctx, id, func(m *memstore.Store) *op {
		ended, done, err = m.DeleteEvent(ctx, id, now, force, limit)
		if err != nil {
			return nil
		}
		if stop, ok := s.watched[id]; done && ok {
			// Its changes are captured; a join watches it again.
			stop()
			delete(s.watched, id)
		}
		return &op{kind: opDeleteEvent, id: id, now: now, on: force, limit: limit}
	})
	if cerr != nil {
		return nil, false, cerr
	}
	return ended, done, err
}

// EventsAfter implements queue.EventAdminStore.
func (s *Store) EventsAfter(ctx context.Context, after string, limit int) (es []queue.Event, err error) {
	cerr := s.call(ctx, "", func(m *memstore.Store) *op {
		es, err = m.EventsAfter(ctx, after, limit)
		return nil
	})
	if cerr != nil {
		return nil, cerr
	}
	return es, err
}

func (o *op) encodeAdmin(w *binenc.Writer) {
	if o.kind == opUpdateEvent {
		w.Event(o.event)
		w.Byte(byte(o.fields))
		return
	}
	w.String(o.id)
	w.Time(o.now)
	w.Bool(o.on)
	w.Varint(int64(o.limit))
}

func (o *op) decodeAdmin(r *binenc.Reader) {
	if o.kind == opUpdateEvent {
		o.event, o.fields = r.Event(), queue.EventFields(r.Byte())
		return
	}
	o.id, o.now, o.on, o.limit = r.String(), r.Time(), r.Bool(), r.Int()
}

func (o *op) replayAdmin(m *memstore.Store) error {
	if o.kind == opUpdateEvent {
		_, err := m.UpdateEvent(noCtx, queue.EventUpdate{Event: o.event, Fields: o.fields})
		return err
	}
	_, _, err := m.DeleteEvent(noCtx, o.id, o.now, o.on, o.limit)
	return err
}
