// Package binenc is the compact binary encoding of the embedded durable
// store's log records and snapshots: varints, length-prefixed strings and
// Unix-nanosecond times, with a reader that remembers its first error so a
// decoder reads straight through and checks once at the end.
package binenc

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// ErrCorrupt is returned by a Reader that ran out of bytes or met a value it
// cannot hold.
var ErrCorrupt = errors.New("binenc: truncated or corrupt data")

// noTime encodes the zero time.Time, which has no Unix nanoseconds.
const noTime = math.MinInt64

// Writer appends to B.
type Writer struct{ B []byte }

// Uvarint appends v.
func (w *Writer) Uvarint(v uint64) { w.B = binary.AppendUvarint(w.B, v) }

// Varint appends v.
func (w *Writer) Varint(v int64) { w.B = binary.AppendVarint(w.B, v) }

// Byte appends b.
func (w *Writer) Byte(b byte) { w.B = append(w.B, b) }

// Bool appends b as one byte.
func (w *Writer) Bool(b bool) {
	if b {
		w.B = append(w.B, 1)
	} else {
		w.B = append(w.B, 0)
	}
}

// String appends s with its length.
func (w *Writer) String(s string) {
	w.Uvarint(uint64(len(s)))
	w.B = append(w.B, s...)
}

// Bytes appends b with its length.
func (w *Writer) Bytes(b []byte) {
	w.Uvarint(uint64(len(b)))
	w.B = append(w.B, b...)
}

// Time appends t as Unix nanoseconds; the zero time round-trips as zero.
// Times outside 1678-2262 are held at those bounds, as everywhere else the
// embedded store keeps times.
func (w *Writer) Time(t time.Time) {
	switch {
	case t.IsZero():
		w.Varint(noTime)
	case t.Before(time.Unix(0, math.MinInt64+1)):
		w.Varint(math.MinInt64 + 1)
	case t.After(time.Unix(0, math.MaxInt64)):
		w.Varint(math.MaxInt64)
	default:
		w.Varint(t.UnixNano())
	}
}

// Reader reads what a Writer wrote. After the first error every read
// returns a zero value, and Err reports the error.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.b) }

// Done is Err, or ErrCorrupt when bytes are left over.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = ErrCorrupt
	}
	return r.err
}

func (r *Reader) fail() { r.err, r.b = ErrCorrupt, nil }

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Int reads a varint that must fit an int.
func (r *Reader) Int() int {
	v := r.Varint()
	if v != int64(int(v)) {
		r.fail()
		return 0
	}
	return int(v)
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	b := r.b[0]
	r.b = r.b[1:]
	return b
}

// Bool reads a Bool.
func (r *Reader) Bool() bool {
	switch r.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail()
	return false
}

// Bytes reads length-prefixed bytes; the result aliases the input.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// String reads a length-prefixed string.
func (r *Reader) String() string { return string(r.Bytes()) }

// Time reads a Time, in UTC.
func (r *Reader) Time() time.Time {
	n := r.Varint()
	if n == noTime || r.err != nil {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Duration reads a varint as a time.Duration.
func (r *Reader) Duration() time.Duration { return time.Duration(r.Varint()) }
