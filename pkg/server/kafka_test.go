package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/server"
)

// TestKafkaWiring runs the real server with Kafka brokers pointing at an
// in-process broker: the queue's changes come out as records, and a
// checkout.completed record frees the slot for the next person.
func TestKafkaWiring(t *testing.T) {
	topics := []string{kafka.TopicJoined, kafka.TopicLeft, kafka.TopicAdmitted, kafka.TopicExpired, kafka.TopicCompleted, kafka.TopicCheckoutCompleted}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ts := startServer(t, server.Config{Kafka: kafka.Config{Brokers: cluster.ListenAddrs()}})
	c := protocols()[0].client(ts)

	a := join(t, c, "k1", "kafka-show")
	b := join(t, c, "k2", "kafka-show")
	process(t, ts) // capacity 1: k1 is admitted

	reader, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics(kafka.TopicJoined, kafka.TopicAdmitted, kafka.TopicCompleted),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	seen := map[string]map[string]bool{} // topic → session ids
	wantSeen := func(topic, session string) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for !seen[topic][session] {
			if time.Now().After(deadline) {
				t.Fatalf("no %s record for %s; saw %v", topic, session, seen)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			reader.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var ev struct {
					EventID  string `json:"event_id"`
					Sessions []struct {
						SessionID string `json:"session_id"`
					} `json:"sessions"`
				}
				if err := json.Unmarshal(r.Value, &ev); err != nil {
					t.Errorf("record on %s is not JSON: %v", r.Topic, err)
				}
				if string(r.Key) != ev.EventID {
					t.Errorf("record key %q, event %q", r.Key, ev.EventID)
				}
				for _, s := range ev.Sessions {
					if seen[r.Topic] == nil {
						seen[r.Topic] = map[string]bool{}
					}
					seen[r.Topic][s.SessionID] = true
				}
			})
			cancel()
		}
	}
	wantSeen(kafka.TopicJoined, a.SessionId)
	wantSeen(kafka.TopicJoined, b.SessionId)
	wantSeen(kafka.TopicAdmitted, a.SessionId)

	// The checkout service reports completion over Kafka.
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	rec := &kgo.Record{Topic: kafka.TopicCheckoutCompleted, Value: []byte(`{"session_id":"` + a.SessionId + `"}`)}
	if err := producer.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	wantSeen(kafka.TopicCompleted, a.SessionId)
	process(t, ts)
	if st := status(t, c, b.SessionId); st.Status != waitroomv1.SessionStatus_SESSION_STATUS_READY {
		t.Fatalf("after checkout.completed, k2 is %v", st.Status)
	}
}
