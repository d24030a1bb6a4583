package redisstore

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/waitroom/waitroom/pkg/queue"
)

// messageSeeds are messages as the scripts publish them and record them in
// the outbox (cjson: "/" escaped, times RFC 3339 to the millisecond), and
// near misses.
var messageSeeds = []string{
	`{"event_id":"concert-2024","update_type":"user_joined","affected_session_ids":["concert-2024~0123456789abcdefghjkmnpqrs"],"timestamp":"2026-03-01T12:00:00.000Z","seq":7,"queue_length":3,"sessions":[{"id":"concert-2024~0123456789abcdefghjkmnpqrs","user_id":"u1","ticket":7,"status":"queued"}]}`,
	`{"event_id":"e","update_type":"user_admitted","affected_session_ids":["e~a","e~b"],"timestamp":"1969-12-31T23:59:59.999Z","seq":1,"queue_length":0,"sessions":[{"id":"e~a","user_id":"a:b@c","ticket":1,"status":"ready"},{"id":"e~b","user_id":"x","ticket":2,"status":"ready"}],"checkout_deadline":"2026-03-01T12:10:00.000Z"}`,
	`{"event_id":"e","update_type":"checkout_completed","affected_session_ids":{},"timestamp":"2026-03-01T12:00:00.000Z","seq":2,"queue_length":0,"sessions":{}}`,
	`{"event_id":"e","update_type":"user_expired","seq":18446744073709551615,"queue_length":-1,"sessions":[{"id":"a\/b","status":"expired"}]}`,
	`{"event_id":"e","update_type":"user_left","seq":0}`,
	`{"event_id":"","update_type":"user_left","seq":1}`,
	`{"event_id":"e","update_type":"nope","seq":1}`,
	`{"event_id":"e","update_type":"user_left","seq":1,"sessions":[{"status":"unknown"}]}`,
	`{"event_id":"e","update_type":"user_left","seq":1,"timestamp":"not a time"}`,
	`{"event_id":"e","update_type":"user_left","seq":1.5}`,
	`{"event_id":"e","update_type":"user_left","seq":1,"sessions":[null]}`,
	`null`, `[]`, `{}`, `"x"`, ``, `{"event_id":"e"`,
}

// FuzzDecodeChange feeds the decoder of published messages and outbox
// entries anything: it never panics, and what it accepts is a change with an
// event and a seq that reads back the same once written out again.
func FuzzDecodeChange(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := decodeChange(data)
		if err != nil {
			return
		}
		if c.EventID == "" || c.Seq == 0 {
			t.Fatalf("%q decoded to %+v", data, c)
		}
		if !utf8.ValidString(data) {
			return // encoding/json reads invalid UTF-8 as U+FFFD, which then reads back as itself
		}
		again, err := encodeChange(c)
		if err != nil {
			return // a time encoding/json cannot write (a year past 9999)
		}
		back, err := decodeChange(again)
		if err != nil {
			t.Fatalf("%q decoded to %+v, written as %q, which is refused: %v", data, c, again, err)
		}
		if !sameChange(c, back) {
			t.Fatalf("%q decoded to %+v, written as %q, read back as %+v", data, c, again, back)
		}
	})
}

// FuzzChangeRoundTrip writes changes as the scripts would and decodes them:
// every change the store can announce (an event, a seq from 1, a known kind
// and statuses, times to the millisecond) comes back as it was.
func FuzzChangeRoundTrip(f *testing.F) {
	f.Add("concert-2024", uint64(7), uint8(0), int64(3), int64(1772366400000), int64(0), "concert-2024~0123456789abcdefghjkmnpqrs", "u1", uint64(7), uint8(0))
	f.Add("e", uint64(1), uint8(2), int64(0), int64(-1), int64(1772367000000), "e~a", "a:b@c", uint64(1), uint8(1))
	f.Add("e/f", uint64(1<<63), uint8(4), int64(-5), int64(253402300799999), int64(1), "", "", uint64(0), uint8(5))
	f.Fuzz(func(t *testing.T, eventID string, seq uint64, kind uint8, qlen, atMS, deadlineMS int64, id, user string, ticket uint64, status uint8) {
		kinds := []queue.ChangeKind{queue.ChangeJoined, queue.ChangeLeft, queue.ChangeAdmitted, queue.ChangeCompleted, queue.ChangeExpired}
		statuses := []queue.Status{queue.StatusQueued, queue.StatusReady, queue.StatusCompleted, queue.StatusExpired, queue.StatusLeft}
		if eventID == "" || seq == 0 || !utf8.ValidString(eventID) || !utf8.ValidString(id) || !utf8.ValidString(user) {
			return
		}
		c := queue.Change{
			EventID:     eventID,
			Seq:         seq,
			Kind:        kinds[int(kind)%len(kinds)],
			QueueLength: qlen,
			At:          msTime(atMS),
			Sessions: []queue.ChangedSession{
				{ID: id, UserID: user, Ticket: ticket, Status: statuses[int(status)%len(statuses)]},
			},
		}
		if deadlineMS != 0 {
			c.CheckoutDeadline = msTime(deadlineMS)
		}
		data, err := encodeChange(c)
		if err != nil {
			return // a time encoding/json cannot write (a year past 9999)
		}
		back, err := decodeChange(data)
		if err != nil {
			t.Fatalf("%+v written as %q is refused: %v", c, data, err)
		}
		if !sameChange(c, back) {
			t.Fatalf("%+v written as %q read back as %+v", c, data, back)
		}
	})
}

// msTime is a time of Unix milliseconds, or the zero time for 0 as the
// scripts' 0 means "not set".
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// encodeChange writes a change as lua/prelude.lua's announce does.
func encodeChange(c queue.Change) (string, error) {
	m := message{
		EventID:          c.EventID,
		UpdateType:       c.Kind.String(),
		Timestamp:        c.At,
		Seq:              c.Seq,
		QueueLength:      c.QueueLength,
		CheckoutDeadline: c.CheckoutDeadline,
	}
	for _, s := range c.Sessions {
		m.Affected = append(m.Affected, s.ID)
		m.Sessions = append(m.Sessions, messageSession{ID: s.ID, UserID: s.UserID, Ticket: s.Ticket, Status: s.Status.String()})
	}
	b, err := json.Marshal(m)
	return string(b), err
}

func sameChange(a, b queue.Change) bool {
	return a.EventID == b.EventID && a.Seq == b.Seq && a.Kind == b.Kind && a.QueueLength == b.QueueLength &&
		a.At.Equal(b.At) && a.CheckoutDeadline.Equal(b.CheckoutDeadline) && slices.Equal(a.Sessions, b.Sessions)
}
