package redisstore

import (
	"encoding/json"
	"testing"
	"time"
	"unsafe"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
)

// FuzzScanSessionDoc checks the fast session reader against encoding/json:
// whatever it accepts must be valid JSON that encoding/json reads into the
// same document. (It may decline anything; encoding/json then reads it.)
func FuzzScanSessionDoc(f *testing.F) {
	for _, seed := range []string{
		`{"id":"e-1","user_id":"u","event_id":"e","ticket":7,"status":"queued","joined_at_ms":1764230400000,"expires_at_ms":1764237600000}`,
		`{"status":"ready","admitted_at_ms":1,"checkout_deadline_ms":2,"ended_at_ms":-3}`,
		`{}`, `{"ticket":-0}`, `{"joined_at_ms":-0}`, `{"ticket":01}`, `{"id":"a\/b"}`, `{"id":"é"}`,
		`{"id":null}`, `{"ID":"x"}`, `{"id":"x","id":"y"}`, `{"id":"x",}`, `{"id" :"x"}`, `{"ticket":1e3}`,
		`{"ticket":123456789012345678}`, `{"ticket":1234567890123456789}`, `{"id":5}`, `{"ticket":"5"}`,
		`{"id":"x"}x`, `{"end_request":"r","id":"x"}`, `{"Ticket":"x"}`, `{"USER_ID":"x","user_id":"y"}`, `{"id":"x"`, `"x"`, `{"extra":1}`, `{"id":"\u0001"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := scanSessionDoc(raw)
		if !ok {
			return
		}
		var want sessionDoc
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", raw, err)
		}
		if got != want {
			t.Fatalf("%q: read %+v, encoding/json %+v", raw, got, want)
		}
	})
}

// TestStoredSessionsTakeTheFastPath reads what the scripts really write, in
// every status a session goes through: the fast reader must accept it all,
// or every read would quietly pay for encoding/json again.
func TestStoredSessionsTakeTheFastPath(t *testing.T) {
	srv := redistest.Start(t)
	st, err := Dial(t.Context(), []string{srv.Addr()}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, now := t.Context(), time.Now()
	var ids []string
	for _, u := range []string{"first", "second", "third"} {
		s, _, _, err := st.Join(ctx, queue.JoinParams{
			SessionID: queue.NewSessionID("fast"), UserID: u, EventID: "fast", Now: now, TTL: time.Hour,
			NewEvent: queue.Event{ID: "fast", State: queue.EventActive, MaxConcurrent: 2, CheckoutWindow: time.Minute},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	if _, err := st.Admit(ctx, "fast", now, 2); err != nil { // first and second
		t.Fatal(err)
	}
	if _, err := st.Complete(ctx, ids[0], now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Leave(ctx, ids[2], now); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]bool{}
	for _, id := range ids {
		raw := srv.MustString("GET", "waitroom:{fast}:session:"+id)
		got, ok := scanSessionDoc(raw)
		var want sessionDoc
		if err := json.Unmarshal([]byte(raw), &want); err != nil || !ok || got != want {
			t.Fatalf("stored session %s: fast read %v %+v, encoding/json %+v, %v", raw, ok, got, want, err)
		}
		if within(raw, got.ID) || within(raw, got.UserID) || within(raw, got.EventID) {
			t.Fatalf("the ids read from %s point into it: a kept session would keep the whole document", raw)
		}
		statuses[got.Status] = true
	}
	if len(statuses) != 3 {
		t.Fatalf("statuses read: %v, want completed, ready and left", statuses)
	}
}

// within reports whether inner's bytes lie inside outer's.
func within(outer, inner string) bool {
	o, i := uintptr(unsafe.Pointer(unsafe.StringData(outer))), uintptr(unsafe.Pointer(unsafe.StringData(inner)))
	return len(inner) > 0 && i >= o && i < o+uintptr(len(outer))
}

// BenchmarkDecodeSession reads one stored session (as the scripts write it)
// with the fast reader and with encoding/json.
func BenchmarkDecodeSession(b *testing.B) {
	raw := `{"ended_at_ms":1795770164284,"joined_at_ms":1795770164284,"event_id":"fast","checkout_deadline_ms":1795770224284,` +
		`"id":"fast~30dmg1z5h91vxcwd19hbasfz5z","expires_at_ms":1795773764284,"user_id":"first","admitted_at_ms":1795770164284,` +
		`"end_request":"0323a796bb1adcc0b237e8cd","status":"completed","ticket":1}`
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSession(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d sessionDoc
			if err := json.Unmarshal([]byte(raw), &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
