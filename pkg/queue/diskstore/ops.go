package diskstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

// The log holds the calls that changed something, with their inputs:
// replayed in order on the snapshot they follow, each makes exactly the
// change it made the first time (the memory store takes every time from
// its caller, and the one it reads from its clock is logged too).

type opKind byte

const (
	opJoin opKind = iota + 1
	opLeave
	opComplete
	opAdmit
	opExpire
	opPutEvent
	opAck
	opForgetIdle
	opOutbox
	// opAdmission is a presence-aware admission, logged as what it decided
	// (presence.go): who was present is not logged.
	opAdmission
	// opExpireRespite is an Expire that let held sessions present at their
	// HeldUntil keep their place, logged with those respites.
	opExpireRespite
	opPlace
	// opUpdateEvent and opDeleteEvent are the admin API's (update.go).
	opUpdateEvent
	opDeleteEvent
	// opJoinLane is a join naming a lane: opJoin's inputs, then the lane.
	opJoinLane
)

// op is one logged call; which fields are set depends on kind.
type op struct {
	kind    opKind
	join    queue.JoinParams
	id      string // the session (leave, complete) or event (admit, expire, ack)
	now     time.Time
	limit   int
	event   queue.Event
	ids     []string
	idleFor time.Duration
	on      bool
	adm     memstore.Admission
	rs      []memstore.Respite
	fields  queue.EventFields
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encode returns the record: a CRC-32C of the rest, the kind, the inputs.
func (o *op) encode() []byte {
	w := &binenc.Writer{B: make([]byte, 4, 128)}
	w.Byte(byte(o.kind))
	switch o.kind {
	case opJoin, opJoinLane:
		p := o.join
		w.String(p.SessionID)
		w.String(p.UserID)
		w.String(p.EventID)
		w.Time(p.Now)
		w.Varint(int64(p.TTL))
		w.Event(p.NewEvent)
		if o.kind == opJoinLane {
			w.String(p.Lane)
		}
	case opLeave, opComplete:
		w.String(o.id)
		w.Time(o.now)
	case opAdmit, opExpire:
		w.String(o.id)
		w.Time(o.now)
		w.Varint(int64(o.limit))
	case opPlace:
		w.String(o.id)
		w.Time(o.now)
	case opPutEvent:
		w.Event(o.event)
	case opAck:
		w.String(o.id)
		w.Time(o.now)
		w.Uvarint(uint64(len(o.ids)))
		for _, id := range o.ids {
			w.String(id)
		}
	case opForgetIdle:
		w.Time(o.now)
		w.Varint(int64(o.idleFor))
		w.Varint(int64(o.limit))
	case opOutbox:
		w.Bool(o.on)
	case opAdmission:
		w.String(o.id)
		w.Time(o.now)
		encodeAdmission(w, o.adm)
	case opExpireRespite:
		w.String(o.id)
		w.Time(o.now)
		w.Varint(int64(o.limit))
		encodeRespites(w, o.rs)
	case opUpdateEvent, opDeleteEvent:
		o.encodeAdmin(w)
	}
	binary.LittleEndian.PutUint32(w.B, crc32.Checksum(w.B[4:], crcTable))
	return w.B
}

var errBadChecksum = errors.New("checksum mismatch")

func decodeOp(b []byte) (op, error) {
	if len(b) < 5 {
		return op{}, binenc.ErrCorrupt
	}
	if binary.LittleEndian.Uint32(b) != crc32.Checksum(b[4:], crcTable) {
		return op{}, errBadChecksum
	}
	r := binenc.NewReader(b[4:])
	o := op{kind: opKind(r.Byte())}
	switch o.kind {
	case opJoin, opJoinLane:
		o.join = queue.JoinParams{SessionID: r.String(), UserID: r.String(), EventID: r.String(), Now: r.Time(), TTL: r.Duration(), NewEvent: r.Event()}
		if o.kind == opJoinLane {
			o.join.Lane = r.String()
		}
	case opLeave, opComplete:
		o.id, o.now = r.String(), r.Time()
	case opAdmit, opExpire:
		o.id, o.now, o.limit = r.String(), r.Time(), r.Int()
	case opPutEvent:
		o.event = r.Event()
	case opAck:
		o.id, o.now = r.String(), r.Time()
		n := r.Uvarint()
		if n > uint64(r.Len()) {
			return op{}, binenc.ErrCorrupt
		}
		for range n {
			o.ids = append(o.ids, r.String())
		}
	case opForgetIdle:
		o.now, o.idleFor, o.limit = r.Time(), r.Duration(), r.Int()
	case opOutbox:
		o.on = r.Bool()
	case opAdmission:
		o.id, o.now = r.String(), r.Time()
		o.adm = decodeAdmission(r)
	case opExpireRespite:
		o.id, o.now, o.limit = r.String(), r.Time(), r.Int()
		o.rs = decodeRespites(r)
	case opPlace:
		o.id, o.now = r.String(), r.Time()
	case opUpdateEvent, opDeleteEvent:
		o.decodeAdmin(r)
	default:
		return op{}, fmt.Errorf("unknown record kind %d", o.kind)
	}
	return o, r.Done()
}

// replay makes o's change again on m; setNow sets the clock m reads.
func (o *op) replay(m *memstore.Store, setNow func(time.Time)) error {
	ctx := noCtx
	var err error
	switch o.kind {
	case opJoin, opJoinLane:
		_, _, _, err = m.Join(ctx, o.join)
		if errors.Is(err, queue.ErrEventClosed) {
			err = nil // it registered the event, and was logged for that
		}
	case opLeave:
		_, err = m.Leave(ctx, o.id, o.now)
	case opComplete:
		_, err = m.Complete(ctx, o.id, o.now)
	case opAdmit:
		_, err = m.Admit(ctx, o.id, o.now, o.limit)
	case opExpire:
		_, err = m.Expire(ctx, o.id, o.now, o.limit)
	case opPutEvent:
		_, err = m.PutEvent(ctx, o.event)
	case opAck:
		setNow(o.now)
		err = m.AckOutbox(ctx, o.id, o.ids)
	case opForgetIdle:
		_, err = m.ForgetIdle(ctx, o.now, o.idleFor, o.limit)
	case opOutbox:
		m.SetOutbox(o.on)
	case opAdmission:
		_, err = m.ApplyAdmission(ctx, o.id, o.now, o.adm)
	case opExpireRespite:
		_, err = m.ExpireWith(ctx, o.id, o.now, o.limit, o.rs)
	case opPlace:
		// The seed is in the snapshot or the logged PutEvent before: the
		// same order comes out again.
		_, _, err = m.PlacePreQueue(ctx, o.id, o.now)
	case opUpdateEvent, opDeleteEvent:
		err = o.replayAdmin(m)
	}
	return err
}
