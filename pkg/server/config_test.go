package server

import (
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
)

func TestConfigDefaults(t *testing.T) {
	c, err := ConfigFromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queue
	if c.ListenAddr != ":50056" || q.ProcessInterval != time.Second || c.Fanout.Resync != 5*time.Second ||
		q.SessionTTL != 2*time.Hour || q.DefaultMaxConcurrent != 100 || q.CheckoutURL != "/checkout" ||
		q.CheckoutWindow != 10*time.Minute || q.UnknownEvents != queue.RegisterUnknownEvents || len(c.RedisAddrs) != 0 || c.KafkaEnabled {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigReadsTheGuidesNames(t *testing.T) {
	env := map[string]string{
		"QUEUE_PROCESS_INTERVAL":         "250ms",
		"QUEUE_POSITION_UPDATE_INTERVAL": "2s",
		"QUEUE_SESSION_TTL":              "600", // bare seconds
		"QUEUE_DEFAULT_MAX_CONCURRENT":   "7",
		"REDIS_ADDR":                     "a:1, b:2 ,c:3",
		"KAFKA_BROKERS":                  "k:9092",
	}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.ProcessInterval != 250*time.Millisecond || c.Fanout.Resync != 2*time.Second ||
		c.Queue.SessionTTL != 10*time.Minute || c.Queue.DefaultMaxConcurrent != 7 ||
		strings.Join(c.RedisAddrs, "|") != "a:1|b:2|c:3" || !c.KafkaEnabled || c.Kafka.Brokers[0] != "k:9092" {
		t.Fatalf("parsed: %+v", c)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"LISTEN_ADDR":                    "no-port",
		"QUEUE_PROCESS_INTERVAL":         "soon",
		"QUEUE_SESSION_TTL":              "-5s",
		"QUEUE_DEFAULT_MAX_CONCURRENT":   "0",
		"CHECKOUT_URL":                   "ftp://x",
		"WAITROOM_ADMIN_TOKEN":           "short",
		"LOG_LEVEL":                      "loud",
		"WAITROOM_SIGNING_KEY_FILE":      "/does/not/exist.pem",
		"KAFKA_BROKERS":                  "no-port",
		"REDIS_ADDR":                     "a:1,no-port",
		"QUEUE_REGISTER_UNKNOWN_EVENTS":  "sometimes",
		"DEBUG_ADDR":                     "6060",
		"QUEUE_CHECKOUT_WINDOW":          "18446744074", // seconds: past int64 nanoseconds
		"QUEUE_STREAM_COALESCE":          "1ns",
		"QUEUE_POSITION_UPDATE_INTERVAL": "9223372037",
	} {
		_, err := ConfigFromEnv(func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: error %v does not name the variable", name, value, err)
		}
	}
}

// TestConfigDurationBounds: whole seconds that overflow a time.Duration are
// refused instead of wrapping into a short or negative one, and intervals
// that would spin the server are refused.
func TestConfigDurationBounds(t *testing.T) {
	for _, c := range []struct {
		name, value, wantErr string
		want                 time.Duration
	}{
		{"QUEUE_SESSION_TTL", "9223372036", "", 9223372036 * time.Second},
		{"QUEUE_SESSION_TTL", "9223372037", "too large", 0},
		{"QUEUE_SESSION_TTL", "18446744074", "too large", 0},
		{"QUEUE_SESSION_TTL", "99999999999999999999", "too large", 0},
		{"QUEUE_SESSION_TTL", "1ns", "", time.Nanosecond},
		{"QUEUE_PROCESS_INTERVAL", "9ms", "at least 10ms", 0},
		{"QUEUE_PROCESS_INTERVAL", "10ms", "", 10 * time.Millisecond},
		{"QUEUE_POSITION_UPDATE_INTERVAL", "99ms", "at least 100ms", 0},
		{"QUEUE_STREAM_COALESCE", "999us", "at least 1ms", 0},
	} {
		cfg, err := ConfigFromEnv(func(k string) string {
			if k == c.name {
				return c.value
			}
			return ""
		})
		var got time.Duration
		switch c.name {
		case "QUEUE_SESSION_TTL":
			got = cfg.Queue.SessionTTL
		case "QUEUE_PROCESS_INTERVAL":
			got = cfg.Queue.ProcessInterval
		case "QUEUE_POSITION_UPDATE_INTERVAL":
			got = cfg.Fanout.Resync
		case "QUEUE_STREAM_COALESCE":
			got = cfg.Fanout.Coalesce
		}
		switch {
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%s=%s: %v, %v; want %v", c.name, c.value, got, err, c.want)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), c.name)):
			t.Errorf("%s=%s: error %v, want one naming it and saying %q", c.name, c.value, err, c.wantErr)
		}
	}
}
