package binenc_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/binenc"
	"github.com/waitroom/waitroom/pkg/queue"
)

// TestChangeRoundTrip: a change, expiry reasons included, reads back as
// written, and a record written before reasons existed reads with none.
func TestChangeRoundTrip(t *testing.T) {
	c := queue.Change{EventID: "e", Seq: 3, Kind: queue.ChangeExpired, QueueLength: 2,
		At: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC),
		Sessions: []queue.ChangedSession{
			{ID: "e~a", UserID: "u", Ticket: 1, Status: queue.StatusExpired, Reason: queue.ExpiredAbsent},
			{ID: "e~b", UserID: "v", Ticket: 2, Status: queue.StatusExpired, Reason: queue.ExpiredCheckoutWindow},
			{ID: "e~c", UserID: "w", Ticket: 3, Status: queue.StatusLeft},
		}}
	w := &binenc.Writer{}
	w.Change(c)
	r := binenc.NewReader(w.B)
	got := r.Change()
	if err := r.Done(); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, c)
	}
	// The status byte of a record from before reasons: the status alone.
	old := queue.Change{EventID: "e", Seq: 1, Kind: queue.ChangeLeft, At: c.At,
		Sessions: []queue.ChangedSession{{ID: "e~c", UserID: "w", Ticket: 3, Status: queue.StatusLeft}}}
	w = &binenc.Writer{}
	w.Change(old)
	r = binenc.NewReader(w.B)
	if got := r.Change(); !reflect.DeepEqual(got, old) || got.Sessions[0].Reason != 0 {
		t.Fatalf("read back %+v, want %+v", got, old)
	}
}
