package server

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := ConfigFromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queue
	if c.ListenAddr != ":50056" || q.ProcessInterval != time.Second || q.Hub.Resync != 5*time.Second ||
		q.SessionTTL != 2*time.Hour || q.DefaultMaxConcurrent != 100 || q.CheckoutURL != "/checkout" ||
		q.CheckoutWindow != 10*time.Minute || q.RefuseUnknownEvents || len(c.RedisAddrs) != 0 || c.KafkaEnabled {
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
	if c.Queue.ProcessInterval != 250*time.Millisecond || c.Queue.Hub.Resync != 2*time.Second ||
		c.Queue.SessionTTL != 10*time.Minute || c.Queue.DefaultMaxConcurrent != 7 ||
		strings.Join(c.RedisAddrs, "|") != "a:1|b:2|c:3" || !c.KafkaEnabled || c.Kafka.Brokers[0] != "k:9092" {
		t.Fatalf("parsed: %+v", c)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"LISTEN_ADDR":                   "no-port",
		"QUEUE_PROCESS_INTERVAL":        "soon",
		"QUEUE_SESSION_TTL":             "-5s",
		"QUEUE_DEFAULT_MAX_CONCURRENT":  "0",
		"CHECKOUT_URL":                  "ftp://x",
		"WAITROOM_ADMIN_TOKEN":          "short",
		"LOG_LEVEL":                     "loud",
		"WAITROOM_SIGNING_KEY_FILE":     "/does/not/exist.pem",
		"KAFKA_BROKERS":                 "no-port",
		"REDIS_ADDR":                    "a:1,no-port",
		"QUEUE_REGISTER_UNKNOWN_EVENTS": "sometimes",
		"DEBUG_ADDR":                    "6060",
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
