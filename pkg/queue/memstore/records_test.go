package memstore

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

// TestSessionsHoldNoPointers guards the layout's one purpose: nothing the
// store keeps per session may hold a pointer, or the garbage collector walks
// every session again on every cycle.
func TestSessionsHoldNoPointers(t *testing.T) {
	var e event
	for _, typ := range []reflect.Type{
		reflect.TypeFor[rec](),
		reflect.TypeOf(e.byKey).Key(), reflect.TypeOf(e.byKey).Elem(),
		reflect.TypeOf(e.byTicket).Key(), reflect.TypeOf(e.byTicket).Elem(),
		reflect.TypeOf(e.live.byHash).Key(), reflect.TypeOf(e.live.byHash).Elem(),
		reflect.TypeOf(e.queuedHeap.items).Elem(),
		reflect.TypeOf(e.recs.chunks).Elem().Elem(),
		reflect.TypeOf(e.recs.free).Elem(),
	} {
		if path, ok := pointerIn(typ, typ.String()); ok {
			t.Errorf("%s holds a pointer at %s", typ, path)
		}
	}
}

func pointerIn(t reflect.Type, path string) (string, bool) {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if p, ok := pointerIn(f.Type, path+"."+f.Name); ok {
				return p, true
			}
		}
		return "", false
	case reflect.Array:
		return pointerIn(t.Elem(), path+"[]")
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "", false
	}
	return path + " (" + t.Kind().String() + ")", true
}

// TestSessionIDsFitTheKey: every id NewSessionID makes has a key, and only
// ids of the key's own event do.
func TestSessionIDsFitTheKey(t *testing.T) {
	for _, ev := range []string{"e", "concert-2024", strings.Repeat("x", queue.MaxEventIDLen)} {
		id := queue.NewSessionID(ev)
		k, ok := keyOf(ev, id)
		if !ok || ev+"~"+string(k[:]) != id {
			t.Fatalf("keyOf(%q, %q) = %q, %v", ev, id, k[:], ok)
		}
		for _, bad := range []string{
			id[:len(id)-1], id + "x", "other~" + id[len(ev)+1:], strings.Replace(id, "~", "-", 1),
			ev + "~x~" + id[len(ev)+4:], // EventOfSession reads its event as ev~x
		} {
			if _, ok := keyOf(ev, bad); ok {
				t.Errorf("keyOf(%q, %q) accepted a foreign id", ev, bad)
			}
		}
	}
}

func TestTimesRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{
		{}, time.Unix(0, 0), time.Unix(0, -1), time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(2026, 11, 27, 12, 0, 0, 1, time.FixedZone("x", 3600)),
		time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64+1),
	} {
		if got := timeOf(unixNano(tm)); !got.Equal(tm) || got.IsZero() != tm.IsZero() {
			t.Errorf("%v came back as %v", tm, got)
		}
	}
	// Beyond the range: held at its ends, never wrapped, never read as unset.
	for tm, want := range map[time.Time]time.Time{
		time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC): time.Unix(0, math.MaxInt64),
		time.Unix(0, math.MinInt64):                 time.Unix(0, math.MinInt64+1),
		time.Date(1, 1, 1, 1, 0, 0, 0, time.UTC):    time.Unix(0, math.MinInt64+1),
	} {
		if got := timeOf(unixNano(tm)); !got.Equal(want) {
			t.Errorf("%v came back as %v, want %v", tm, got, want)
		}
	}
	for _, c := range [][3]int64{
		{1, 2, 3}, {math.MaxInt64 - 1, 5, math.MaxInt64}, {math.MinInt64 + 3, -5, math.MinInt64 + 1},
		{math.MaxInt64, math.MinInt64 + 1, 0},
	} {
		if got := addNano(c[0], c[1]); got != c[2] {
			t.Errorf("addNano(%d, %d) = %d, want %d", c[0], c[1], got, c[2])
		}
	}
}

// TestFarDeadlinesStayAhead: a checkout window or a session TTL reaching
// past 2262 (durationpb gives MaxInt64 for anything over 292 years) is a
// deadline far ahead, not one wrapped into the past.
func TestFarDeadlinesStayAhead(t *testing.T) {
	s := New(Config{})
	ctx := t.Context()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	forever := time.Duration(math.MaxInt64)
	ev := queue.Event{ID: "ev", State: queue.EventActive, MaxConcurrent: 10, CheckoutWindow: forever}
	join := func(user string, ttl time.Duration) queue.Session {
		t.Helper()
		sess, _, _, err := s.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID("ev"), UserID: user, EventID: "ev", Now: now, TTL: ttl, NewEvent: ev})
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	join("admitted", time.Hour)
	if got, err := s.Admit(ctx, "ev", now, 1); err != nil || len(got) != 1 || !got[0].CheckoutDeadline.After(now) {
		t.Fatalf("Admit = %+v, %v", got, err)
	}
	long := join("long", forever)
	if !long.ExpiresAt.After(now) {
		t.Fatalf("ExpiresAt %v is not after %v", long.ExpiresAt, now)
	}
	if got, err := s.Expire(ctx, "ev", now.Add(time.Second), 10); err != nil || len(got) != 0 {
		t.Fatalf("a second later, Expire ended %+v (%v)", got, err)
	}
	// An ended long-lived session is kept readable, not purged at once.
	if _, err := s.Leave(ctx, long.ID, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expire(ctx, "ev", now.Add(2*time.Second), 10); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Session(ctx, long.ID); err != nil || got.Status != queue.StatusLeft {
		t.Fatalf("Session after leaving = %+v, %v", got, err)
	}
}

// TestRecordsStayPut: records never move as the store grows, and a released
// record comes back zeroed under the same handle.
func TestRecordsStayPut(t *testing.T) {
	var rs records
	const n = 3*chunkLen + 10
	hs := make([]handle, n)
	ptrs := make([]*rec, n)
	for i := range n {
		hs[i] = rs.alloc()
		ptrs[i] = rs.at(hs[i])
		ptrs[i].ticket = uint64(i + 1)
	}
	seen := map[handle]bool{}
	for i, h := range hs {
		if seen[h] {
			t.Fatalf("handle %#x handed out twice", h)
		}
		seen[h] = true
		if rs.at(h) != ptrs[i] || rs.at(h).ticket != uint64(i+1) {
			t.Fatalf("record %d moved or changed", i)
		}
	}
	if want := firstChunkLen; len(rs.chunks[0]) != want {
		t.Errorf("first chunk holds %d records, want %d", len(rs.chunks[0]), want)
	}
	rs.release(hs[5])
	if h := rs.alloc(); h != hs[5] || *rs.at(h) != (rec{}) {
		t.Fatalf("alloc after release = %#x (record %+v), want the released %#x, zeroed", h, *rs.at(h), hs[5])
	}
}

// TestForgottenCrowdGivesMemoryBack: once every session of an event has been
// purged, the event holds no records, and it still takes new joins.
func TestForgottenCrowdGivesMemoryBack(t *testing.T) {
	s := New(Config{})
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 2*chunkLen + 1
	ev := queue.Event{ID: "ev", State: queue.EventActive, MaxConcurrent: 10, CheckoutWindow: time.Minute}
	for i := range n {
		p := queue.JoinParams{SessionID: queue.NewSessionID("ev"), UserID: "u" + strconv.Itoa(i), EventID: "ev", Now: now, TTL: time.Hour, NewEvent: ev}
		if _, _, _, err := s.Join(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	e := s.events["ev"]
	if len(e.recs.chunks) < 3 {
		t.Fatalf("%d sessions in %d chunks", n, len(e.recs.chunks))
	}
	// All expire after an hour; an hour after that they are forgotten.
	if got, err := s.Expire(ctx, "ev", now.Add(time.Hour), n); err != nil || len(got) != n {
		t.Fatalf("Expire: %d sessions, %v", len(got), err)
	}
	if len(e.recs.chunks) < 3 {
		t.Fatal("records given back while their sessions are still readable")
	}
	if _, err := s.Expire(ctx, "ev", now.Add(2*time.Hour), n); err != nil {
		t.Fatal(err)
	}
	if len(e.recs.chunks) != 0 || len(e.recs.free) != 0 || len(e.byKey) != 0 {
		t.Fatalf("after the purge: %d chunks, %d free handles, %d keys", len(e.recs.chunks), len(e.recs.free), len(e.byKey))
	}
	later := now.Add(3 * time.Hour)
	sess, pl, created, err := s.Join(ctx, queue.JoinParams{SessionID: queue.NewSessionID("ev"), UserID: "u0", EventID: "ev", Now: later, TTL: time.Hour})
	if err != nil || !created || pl.Position != 1 || sess.Ticket != n+1 {
		t.Fatalf("join after the purge: %+v %+v created=%v err=%v", sess, pl, created, err)
	}
	if got, _, err := s.Session(ctx, sess.ID); err != nil || got != sess {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, sess)
	}
}
