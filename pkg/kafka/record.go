package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"

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

// newRecord builds the record for a change. Topic = prefix + type, key = the
// event id (one event's changes stay ordered within each topic); the type and
// id headers repeat the message's, so consumers can route and de-duplicate
// without decoding it.
func newRecord(prefix string, c queue.Change) (*kgo.Record, error) {
	m, err := wire.QueueEvent(c)
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
