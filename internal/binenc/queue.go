package binenc

import (
	"math"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/lanes"
)

// Event appends an event's settings.
func (w *Writer) Event(e queue.Event) {
	w.String(e.ID)
	st := byte(e.State)
	if e.FairStart.On() {
		st |= fairStartFlag
	}
	if e.AdmissionRate != 0 {
		st |= rateFlag
	}
	if e.HasLanes() {
		st |= lanesFlag
	}
	w.Byte(st)
	w.Varint(e.MaxConcurrent)
	w.Varint(int64(e.CheckoutWindow))
	w.String(e.CheckoutURL)
	if e.FairStart.On() {
		f := e.FairStart
		w.Time(f.SaleStartsAt)
		w.String(f.Seed)
		w.Uvarint(f.After)
		w.Uvarint(f.Last)
		w.Time(f.PlacedAt)
		w.Uvarint(f.PlacedSeq)
		w.Varint(f.Placed)
	}
	if e.AdmissionRate != 0 {
		w.Uvarint(math.Float64bits(e.AdmissionRate))
	}
	if e.HasLanes() {
		w.Uvarint(uint64(len(e.Lanes)))
		for _, l := range e.Lanes {
			w.String(l.Name)
			w.Varint(l.Weight)
		}
	}
}

// fairStartFlag, set in an event's state byte, says its fair start follows:
// events written before fair starts existed read as they did.
const fairStartFlag = 0x80

// rateFlag, set in an event's state byte, says its admission rate follows
// (after the fair start); events written before rates read with none.
const rateFlag = 0x40

// lanesFlag, set in an event's state byte, says its lanes follow (after
// the admission rate); events written before lanes read with none.
const lanesFlag = 0x20

// Event reads an Event.
func (r *Reader) Event() queue.Event {
	e := queue.Event{ID: r.String()}
	st := r.Byte()
	e.State = queue.EventState(st &^ (fairStartFlag | rateFlag | lanesFlag))
	e.MaxConcurrent = r.Varint()
	e.CheckoutWindow = r.Duration()
	e.CheckoutURL = r.String()
	if st&fairStartFlag != 0 {
		e.FairStart = queue.FairStart{
			SaleStartsAt: r.Time(), Seed: r.String(), After: r.Uvarint(), Last: r.Uvarint(),
			PlacedAt: r.Time(), PlacedSeq: r.Uvarint(), Placed: r.Varint(),
		}
	}
	if st&rateFlag != 0 {
		e.AdmissionRate = math.Float64frombits(r.Uvarint())
	}
	if st&lanesFlag != 0 {
		n := r.Uvarint()
		if n > lanes.MaxLanes {
			r.fail()
			return e
		}
		e.Lanes = make([]lanes.Lane, n)
		for i := range e.Lanes {
			e.Lanes[i] = lanes.Lane{Name: r.String(), Weight: r.Varint()}
		}
	}
	return e
}

// Change appends a change.
func (w *Writer) Change(c queue.Change) {
	w.String(c.EventID)
	w.Uvarint(c.Seq)
	w.Byte(byte(c.Kind))
	w.Varint(c.QueueLength)
	w.Time(c.At)
	w.Time(c.CheckoutDeadline)
	w.Uvarint(uint64(len(c.Sessions)))
	for _, s := range c.Sessions {
		w.String(s.ID)
		w.String(s.UserID)
		w.Uvarint(s.Ticket)
		// An expiry's reason rides in the status byte's high bits: records
		// written before there were reasons read as reason 0.
		w.Byte(byte(s.Status) | byte(s.Reason)<<reasonShift)
	}
}

// reasonShift places a ChangedSession's expiry reason above its status.
const reasonShift = 4

// Change reads a Change.
func (r *Reader) Change() queue.Change {
	c := queue.Change{
		EventID:          r.String(),
		Seq:              r.Uvarint(),
		Kind:             queue.ChangeKind(r.Byte()),
		QueueLength:      r.Varint(),
		At:               r.Time(),
		CheckoutDeadline: r.Time(),
	}
	n := r.Uvarint()
	if n > uint64(r.Len()) { // each session takes at least one byte
		r.fail()
		return queue.Change{}
	}
	c.Sessions = make([]queue.ChangedSession, n)
	for i := range c.Sessions {
		c.Sessions[i] = queue.ChangedSession{
			ID:     r.String(),
			UserID: r.String(),
			Ticket: r.Uvarint(),
		}
		b := r.Byte()
		c.Sessions[i].Status = queue.Status(b & (1<<reasonShift - 1))
		c.Sessions[i].Reason = queue.ExpiryReason(b >> reasonShift)
	}
	return c
}
