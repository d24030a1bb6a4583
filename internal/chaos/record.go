package chaos

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// Record is one Kafka record a replica produced on a queue.* topic.
type Record struct {
	// Topic is the topic, without any prefix.
	Topic string
	// ID is the record's id header, "<event_id>:<seq>".
	ID string
	// Value is the record's value, to tell a redelivery (the same value) from
	// two different changes under one id.
	Value string
	// Event is the value decoded.
	Event *waitroomv1.QueueEvent
}

// DecodeRecord reads a queue.* record's id header and protojson value.
func DecodeRecord(topic, id string, value []byte) (Record, error) {
	ev := &waitroomv1.QueueEvent{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(value, ev); err != nil {
		return Record{}, fmt.Errorf("record %q on %s: %w", id, topic, err)
	}
	if ev.GetId() != id {
		return Record{}, fmt.Errorf("record on %s: id header %q, value id %q", topic, id, ev.GetId())
	}
	return Record{Topic: topic, ID: id, Value: string(value), Event: ev}, nil
}
