package wire_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

func TestQueueEvent(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c := queue.Change{
		EventID: "concert-1",
		Seq:     7,
		Kind:    queue.ChangeAdmitted,
		Sessions: []queue.ChangedSession{
			{ID: "concert-1~a", UserID: "u1", Ticket: 3, Status: queue.StatusReady},
			{ID: "concert-1~b", UserID: "u2", Ticket: 4, Status: queue.StatusReady},
		},
		QueueLength:      0,
		At:               at,
		CheckoutDeadline: at.Add(10 * time.Minute),
	}
	m, err := wire.QueueEvent(c)
	if err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// Consumers without the schema read these names.
	var back waitroomv1.QueueEvent
	if err := protojson.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"concert-1:7"`, `"type":"queue.admitted"`, `"event_id":"concert-1"`,
		`"queue_length":"0"`, `"checkout_deadline":"2026-03-01T10:10:00Z"`, `"session_id":"concert-1~a"`,
		`"status":"SESSION_STATUS_READY"`} {
		if !containsCompact(string(js), want) {
			t.Errorf("JSON %s lacks %s", js, want)
		}
	}
	if back.GetSeq() != 7 || len(back.GetSessions()) != 2 || back.GetSessions()[1].GetTicket() != 4 ||
		!back.GetAt().AsTime().Equal(at) || back.QueueLength == nil {
		t.Errorf("round trip lost data: %v", &back)
	}

	for kind, typ := range map[queue.ChangeKind]string{
		queue.ChangeJoined: "queue.joined", queue.ChangeLeft: "queue.left",
		queue.ChangeAdmitted: "queue.admitted", queue.ChangeExpired: "queue.expired",
		queue.ChangeCompleted: "queue.completed", queue.ChangePlaced: "queue.placed",
	} {
		if got, ok := wire.QueueEventType(kind); !ok || got != typ {
			t.Errorf("QueueEventType(%v) = %q, %v; want %q", kind, got, ok, typ)
		}
	}
	if _, err := wire.QueueEvent(queue.Change{EventID: "e", Seq: 1, Kind: 99}); err == nil {
		t.Error("an unknown kind encoded")
	}
	if m, _ := wire.QueueEvent(queue.Change{EventID: "e", Seq: 1, Kind: queue.ChangeJoined, At: at}); m.CheckoutDeadline != nil {
		t.Error("a join carries a checkout deadline")
	}
	if m, err := wire.QueueEvent(queue.Change{EventID: "e", Seq: 9, Kind: queue.ChangePlaced, QueueLength: 3, At: at}); err != nil ||
		m.GetType() != "queue.placed" || len(m.GetSessions()) != 0 || m.GetQueueLength() != 3 || m.GetId() != "e:9" {
		t.Errorf("a placement's record: %v, %v", m, err)
	}
}

// containsCompact reports whether js (protojson output, whose spacing is
// deliberately unstable) contains want once spaces are removed.
func containsCompact(js, want string) bool {
	return strings.Contains(strings.ReplaceAll(js, " ", ""), want)
}

// TestQueueEventExpiryReason: queue.expired says why each session expired.
func TestQueueEventExpiryReason(t *testing.T) {
	c := queue.Change{EventID: "e", Seq: 9, Kind: queue.ChangeExpired, At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Sessions: []queue.ChangedSession{
			{ID: "e~a", Ticket: 1, Status: queue.StatusExpired, Reason: queue.ExpiredAbsent},
			{ID: "e~b", Ticket: 2, Status: queue.StatusExpired, Reason: queue.ExpiredCheckoutWindow},
			{ID: "e~c", Ticket: 3, Status: queue.StatusExpired, Reason: queue.ExpiredQueueTTL},
			{ID: "e~d", Ticket: 4, Status: queue.StatusExpired, Reason: queue.ExpiredEventDeleted},
		}}
	m, err := wire.QueueEvent(c)
	if err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"expiry_reason":"EXPIRY_REASON_ABSENT"`, `"expiry_reason":"EXPIRY_REASON_CHECKOUT_WINDOW"`,
		`"expiry_reason":"EXPIRY_REASON_QUEUE_TTL"`, `"expiry_reason":"EXPIRY_REASON_EVENT_DELETED"`} {
		if !containsCompact(string(js), want) {
			t.Errorf("JSON %s lacks %s", js, want)
		}
	}
}
