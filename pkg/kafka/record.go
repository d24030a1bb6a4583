package kafka

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/wire"
	"github.com/waitroom/waitroom/pkg/queue"
)

// Record header names.
const (
	HeaderType        = "type"
	HeaderID          = "id"
	HeaderContentType = "content-type"
	contentTypeJSON   = "application/json"
)

// RecordID is the id of the record for an event's change number seq:
// "<event_id>:<seq>". It is deterministic, so a change relayed twice (after a
// crash) carries the same id and consumers can drop the copy.
func RecordID(eventID string, seq uint64) string {
	return eventID + ":" + strconv.FormatUint(seq, 10)
}

// TypeOf returns the record type of a change kind, which is also its topic
// name before the prefix; ok is false for a kind that has none.
func TypeOf(k queue.ChangeKind) (typ string, ok bool) {
	switch k {
	case queue.ChangeJoined:
		return TopicJoined, true
	case queue.ChangeLeft:
		return TopicLeft, true
	case queue.ChangeAdmitted:
		return TopicAdmitted, true
	case queue.ChangeExpired:
		return TopicExpired, true
	case queue.ChangeCompleted:
		return TopicCompleted, true
	}
	return "", false
}

// QueueEventOf converts a change to its Kafka message.
func QueueEventOf(c queue.Change) (*waitroomv1.QueueEvent, error) {
	typ, ok := TypeOf(c.Kind)
	if !ok {
		return nil, fmt.Errorf("kafka: change %s has unknown kind %d", RecordID(c.EventID, c.Seq), c.Kind)
	}
	m := &waitroomv1.QueueEvent{
		Id:          RecordID(c.EventID, c.Seq),
		Type:        typ,
		EventId:     c.EventID,
		Seq:         c.Seq,
		QueueLength: &c.QueueLength,
		At:          timestamp(c.At),
	}
	if c.Kind == queue.ChangeAdmitted {
		m.CheckoutDeadline = timestamp(c.CheckoutDeadline)
	}
	m.Sessions = make([]*waitroomv1.QueueEventSession, len(c.Sessions))
	for i, s := range c.Sessions {
		m.Sessions[i] = &waitroomv1.QueueEventSession{
			SessionId: s.ID,
			UserId:    s.UserID,
			Ticket:    s.Ticket,
			Status:    wire.SessionStatus(s.Status),
		}
	}
	return m, nil
}

// newRecord builds the record for a change. Topic = prefix + type, key = the
// event id (one event's changes stay ordered within each topic).
func newRecord(prefix string, c queue.Change) (*kgo.Record, error) {
	m, err := QueueEventOf(c)
	if err != nil {
		return nil, err
	}
	v, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("kafka: encode %s: %w", m.Id, err)
	}
	return &kgo.Record{
		Topic: prefix + m.Type,
		Key:   []byte(c.EventID),
		Value: v,
		Headers: []kgo.RecordHeader{
			{Key: HeaderType, Value: []byte(m.Type)},
			{Key: HeaderID, Value: []byte(m.Id)},
			{Key: HeaderContentType, Value: []byte(contentTypeJSON)},
		},
		// Timestamp stays unset (the produce time): franz-go measures the
		// delivery timeout from it, so the change's own time, which can be
		// long past after an outage, would fail every record of a backlog.
		// The payload's "at" carries the change's time.
	}, nil
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
