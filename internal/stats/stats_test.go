package stats

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestKeys pins the document's keys: the README names them (kafka.backlog),
// and load tools and dashboards read them.
func TestKeys(t *testing.T) {
	s := Server{Kafka: &Kafka{Backlog: 3, BacklogAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"cadence", "cpu_seconds", "goroutines", "heap_bytes", "heartbeats_sent", "kafka", "limits", "open_streams", "rss_bytes", "run_queue_wait_seconds", "stack_bytes", "store", "total_bytes", "written_bytes"}
	if got := keys(doc); !reflect.DeepEqual(got, want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	wantLimits := []string{"conns_per_ip", "h2_reset_floods", "joins_per_ip", "stream_write_timeouts", "streams_max", "streams_per_ip", "streams_per_session"}
	if got := keys(doc["limits"].(map[string]any)); !reflect.DeepEqual(got, wantLimits) {
		t.Errorf("limits keys %v, want %v", got, wantLimits)
	}
	wantCadence := []string{"coalesce_seconds", "held", "max_interval_seconds", "parked", "realtime_positions", "sends_in_flight",
		"sends_queued", "sends_stalled", "sends_waiting", "sent_cadenced", "sent_final", "sent_realtime"}
	if got := keys(doc["cadence"].(map[string]any)); !reflect.DeepEqual(got, wantCadence) {
		t.Errorf("cadence keys %v, want %v", got, wantCadence)
	}
	kafka := doc["kafka"].(map[string]any)
	wantKafka := []string{"backlog", "backlog_at", "failures", "held", "last_error", "last_error_at", "relayed"}
	if got := keys(kafka); !reflect.DeepEqual(got, wantKafka) {
		t.Errorf("kafka keys %v, want %v", got, wantKafka)
	}
	if kafka["backlog"] != 3.0 {
		t.Errorf("kafka.backlog = %v, want 3", kafka["backlog"])
	}
	var back Server
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("round trip gave %+v (%v), want %+v", back, err, s)
	}
}

// TestNoKafka: a server without KAFKA_BROKERS leaves the key out.
func TestNoKafka(t *testing.T) {
	b, err := json.Marshal(Server{Store: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["kafka"]; ok {
		t.Errorf("kafka present without a relay: %s", b)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
