package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// scrape reads the server's /metrics over HTTP.
func scrape(t *testing.T, ts *servertest.Server) metricsText {
	t.Helper()
	res, err := http.Get("http://" + ts.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", res.StatusCode, err)
	}
	return metricsText(b)
}

// metricsText is a scrape in Prometheus's text format.
type metricsText string

// value sums the samples of the series name whose labels include every
// k="v" pair of labels; found is false when there is none.
func (m metricsText) value(name string, labels ...string) (sum float64, found bool) {
	sc := bufio.NewScanner(strings.NewReader(string(m)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, v := line[:i], line[i+1:]
		n, l, _ := strings.Cut(series, "{")
		if n != name || !hasLabels(l, labels) {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		sum, found = sum+f, true
	}
	return sum, found
}

func hasLabels(l string, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if !strings.Contains(l, fmt.Sprintf("%s=%q", labels[i], labels[i+1])) {
			return false
		}
	}
	return true
}

// want fails the test unless the series has exactly v.
func (m metricsText) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	got, found := m.value(name, labels...)
	if !found {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

// TestMetricsScrape: the figures a scrape of METRICS_ADDR shows are those the
// test's own calls imply: N joins, a leave, an admission, a completion, two
// open streams and the messages they received, a refused stream, and the
// RPC metrics of each call.
func TestMetricsScrape(t *testing.T) {
	const n = 5
	ts := startServer(t, server.Config{
		// No periodic pass and no heartbeat: every stream message follows
		// one of the test's calls.
		Fanout:      fanout.Config{Resync: time.Hour, Heartbeat: -1},
		StreamLimit: api.StreamLimitConfig{PerSession: 1},
	})
	c := ts.Client()
	ctx := context.Background()
	event := "metrics-gala"
	var ids []string
	for i := range n {
		ids = append(ids, join(t, c, fmt.Sprintf("fan-%d", i), event).SessionId)
	}
	join(t, c, "fan-0", event) // a repeated join creates nothing
	second, third := openStream(t, c, ids[1]), openStream(t, c, ids[2])
	second.until("its place", queued(2, n))
	third.until("its place", queued(3, n))
	// A second stream on one session is over its cap.
	refused, err := c.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: ids[1]}))
	if err == nil {
		for refused.Receive() {
		}
		err = refused.Err()
		refused.Close()
	}
	wantCode(t, err, connect.CodeResourceExhausted, "too many streams")

	if _, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ids[n-1]})); err != nil {
		t.Fatal(err)
	}
	second.until("the leave", queued(2, n-1))
	third.until("the leave", queued(3, n-1))
	process(t, ts) // capacity 1: admits the head
	second.until("the admission", queued(1, n-2))
	third.until("the admission", queued(2, n-2))
	if _, err := c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: ids[0]})); err != nil {
		t.Fatal(err)
	}

	// A stream's handler records a message after writing it, so the client
	// may have it before the counters do: scrape until both streams' last
	// messages are counted (or the wait runs out and the checks below say
	// what is missing).
	m := scrape(t, ts)
	for deadline := time.Now().Add(waitLimit); time.Now().Before(deadline); m = scrape(t, ts) {
		sent, _ := m.value("waitroom_stream_messages_total", "kind", "update")
		timed, _ := m.value("waitroom_stream_delivery_duration_seconds_count")
		if sent >= 6 && timed >= 4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev := []string{"event_id", event}
	m.want(t, n, "waitroom_queue_joins_total", ev...)
	m.want(t, 1, "waitroom_queue_leaves_total", ev...)
	m.want(t, 1, "waitroom_queue_admissions_total", ev...)
	m.want(t, 1, "waitroom_queue_completions_total", ev...)
	m.want(t, 0, "waitroom_queue_expiries_total", ev...)
	// As the processor's pass left them: n joined, one left, one admitted.
	m.want(t, n-2, "waitroom_queue_length", ev...)
	m.want(t, 1, "waitroom_queue_in_checkout", ev...)
	m.want(t, 2, "waitroom_streams_open")
	// Each stream: its first state, the leave, the admission; the last two
	// follow a change, so their delivery is timed.
	m.want(t, 6, "waitroom_stream_messages_total", "kind", "update")
	m.want(t, 4, "waitroom_stream_delivery_duration_seconds_count")
	m.want(t, 1, "waitroom_limit_refusals_total", "kind", "streams_per_session")
	m.want(t, 0, "waitroom_limit_refusals_total", "kind", "joins_per_ip")
	m.want(t, 0, "waitroom_store_errors_total")
	// otelconnect's RPC metrics: one series per procedure and code.
	rpc := "rpc_server_call_duration_seconds_count"
	m.want(t, n+1, rpc, "rpc_method", "waitroom.v1.WaitroomService/JoinQueue")
	m.want(t, 1, rpc, "rpc_method", "waitroom.v1.WaitroomService/LeaveQueue")
	m.want(t, 1, rpc, "rpc_method", "waitroom.v1.WaitroomService/CompleteCheckout")
	if t.Failed() {
		t.Log(m)
	}
}

// TestMetricsOff: with METRICS_ADDR=off there is no metrics listener, and
// the public port has no /metrics either.
func TestMetricsOff(t *testing.T) {
	ts := startServer(t, server.Config{MetricsAddr: server.MetricsOff})
	if ts.MetricsAddr() != nil {
		t.Fatalf("MetricsAddr() = %v with METRICS_ADDR=off", ts.MetricsAddr())
	}
	join(t, ts.Client(), "fan", "quiet")
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics: %d", res.StatusCode)
	}
}

// TestKafkaMetrics: with Kafka, the relay's progress and lag and the
// clients' own figures (kotel) are scraped: three joins are three records
// relayed, each with its lag timed.
func TestKafkaMetrics(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafka.TopicJoined, kafka.TopicCheckoutCompleted))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ts := startServer(t, server.Config{Kafka: kafka.Config{Brokers: cluster.ListenAddrs()}})
	c := ts.Client()
	for i := range 3 {
		join(t, c, fmt.Sprintf("k-%d", i), "kafka-metrics")
	}
	var m metricsText
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(50 * time.Millisecond) {
		m = scrape(t, ts)
		if n, _ := m.value("waitroom_kafka_relayed_total"); n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay never relayed 3 records:\n%s", m)
		}
	}
	m.want(t, 3, "waitroom_kafka_relayed_total")
	m.want(t, 3, "waitroom_kafka_relay_lag_seconds_count")
	m.want(t, 0, "waitroom_kafka_relay_failures_total")
	if _, found := m.value("waitroom_kafka_outbox_backlog"); !found {
		t.Error("no waitroom_kafka_outbox_backlog")
	}
	if n, _ := m.value("messaging_kafka_produce_records_count_total", "topic", kafka.TopicJoined); n != 3 {
		t.Errorf("kotel counted %v records produced to %s; want 3", n, kafka.TopicJoined)
	}
	if t.Failed() {
		t.Log(m)
	}
}
