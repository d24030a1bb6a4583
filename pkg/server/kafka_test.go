package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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

// The broker freezes (it takes requests and never answers, as after
// SIGSTOP) while the relay has a record in flight and the consumer is a
// group member: the server still stops within ShutdownTimeout.
func TestKafkaShutdownWithFrozenBroker(t *testing.T) {
	topics := []string{kafka.TopicJoined, kafka.TopicLeft, kafka.TopicAdmitted, kafka.TopicExpired, kafka.TopicCompleted, kafka.TopicCheckoutCompleted}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	const shutdownTimeout = 2 * time.Second
	ts := startServer(t, server.Config{
		Kafka: kafka.Config{Brokers: cluster.ListenAddrs()}, ShutdownTimeout: shutdownTimeout,
		// The clients' goroutines that waited on the frozen broker end
		// after the test, when it is closed: they must not log to it.
		Logger: slog.New(slog.DiscardHandler),
	})
	c := protocols()[0].client(ts)

	// The consumer is in its group once it completes a checkout.
	a := join(t, c, "k1", "frozen")
	process(t, ts)
	producer, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	rec := &kgo.Record{Topic: kafka.TopicCheckoutCompleted, Value: []byte(`{"session_id":"` + a.SessionId + `"}`)}
	if err := producer.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitLimit)
	for status(t, c, a.SessionId).Status == waitroomv1.SessionStatus_SESSION_STATUS_READY {
		if time.Now().After(deadline) {
			t.Fatal("checkout.completed was not consumed")
		}
		time.Sleep(20 * time.Millisecond)
	}

	block := make(chan struct{})
	cluster.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		<-block
		return nil, errors.New("frozen"), true
	})
	t.Cleanup(func() { close(block) }) // before cluster.Close, which waits for it
	join(t, c, "k2", "frozen")         // its record is never answered
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	ts.Stop()
	// A correctness bound, with room to spare: a stop that waits on the
	// broker takes minutes.
	if took := time.Since(start); took > shutdownTimeout+time.Second {
		t.Errorf("the server took %v to stop with the broker frozen; ShutdownTimeout is %v", took, shutdownTimeout)
	}
}

// With CreateTopics the server creates the missing topics at start, leaves
// an existing one as it is, and relays to them.
func TestKafkaCreateTopics(t *testing.T) {
	const prefix = "fresh."
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, prefix+kafka.TopicLeft))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ts := startServer(t, server.Config{Kafka: kafka.Config{
		Brokers: cluster.ListenAddrs(), TopicPrefix: prefix, CreateTopics: true, TopicPartitions: 3,
	}})

	admin, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	want := map[string]int{}
	for _, name := range []string{kafka.TopicJoined, kafka.TopicAdmitted, kafka.TopicExpired, kafka.TopicCompleted, kafka.TopicPlaced, kafka.TopicCheckoutCompleted} {
		want[prefix+name] = 3
	}
	want[prefix+kafka.TopicLeft] = 2 // it existed
	deadline := time.Now().Add(waitLimit)
	for {
		got := map[string]int{}
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), admin)
		if err == nil {
			for _, tp := range resp.Topics {
				if tp.ErrorCode == 0 && tp.Topic != nil {
					got[*tp.Topic] = len(tp.Partitions)
				}
			}
		}
		if maps.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics %v, want %v (error %v)", got, want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	c := protocols()[0].client(ts)
	j := join(t, c, "k1", "fresh-show")
	reader, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics(prefix+kafka.TopicJoined), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for seen := false; !seen; {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no queue.joined record on the created topic")
		}
		fs.EachRecord(func(r *kgo.Record) { seen = seen || strings.Contains(string(r.Value), j.SessionId) })
	}
}

func TestKafkaTopicSettingsFromEnv(t *testing.T) {
	env := map[string]string{"KAFKA_BROKERS": "k:9092", "KAFKA_CREATE_TOPICS": "true", "KAFKA_TOPIC_PARTITIONS": "6", "KAFKA_TOPIC_REPLICATION": "3"}
	c, err := server.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !c.Kafka.CreateTopics || c.Kafka.TopicPartitions != 6 || c.Kafka.TopicReplication != 3 {
		t.Fatalf("parsed %+v", c.Kafka)
	}
	for name, value := range map[string]string{"KAFKA_CREATE_TOPICS": "yes please", "KAFKA_TOPIC_PARTITIONS": "0", "KAFKA_TOPIC_REPLICATION": "40000"} {
		_, err := server.ConfigFromEnv(func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v", name, value, err)
		}
	}
	for _, v := range []string{"-1"} {
		c, err := server.ConfigFromEnv(func(k string) string {
			if k == "KAFKA_TOPIC_PARTITIONS" || k == "KAFKA_TOPIC_REPLICATION" {
				return v
			}
			return ""
		})
		if err != nil || c.Kafka.TopicPartitions != -1 || c.Kafka.TopicReplication != -1 {
			t.Errorf("%s: %+v, %v", v, c.Kafka, err)
		}
	}
}
