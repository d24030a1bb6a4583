package server

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/token"
)

// TestConfigDefaults: an empty environment overrides nothing, so every
// setting is its constructor's default, and those are the defaults the
// README lists.
func TestConfigDefaults(t *testing.T) {
	c, err := ConfigFromEnv(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Config{}) {
		t.Fatalf("an empty environment set %+v", c)
	}
	c = c.withDefaults()
	if c.ListenAddr != ":50056" || c.MaxStreamsPerConn != 1000 || c.ShutdownTimeout != 10*time.Second ||
		queue.DefaultProcessInterval != time.Second || fanout.DefaultResync != 5*time.Second ||
		fanout.DefaultCoalesce != 100*time.Millisecond || fanout.DefaultHeartbeat != 20*time.Second || queue.DefaultSessionTTL != 2*time.Hour ||
		queue.DefaultMaxConcurrent != 100 || queue.DefaultCheckoutURL != "/checkout" ||
		queue.DefaultCheckoutWindow != 10*time.Minute || queue.DefaultAdmitBatch != 1000 ||
		c.Queue.UnknownEvents != queue.RegisterUnknownEvents || len(c.RedisAddrs) != 0 || c.KafkaEnabled() ||
		kafka.DefaultClientID != "waitroom" || kafka.DefaultGroup != "waitroom" ||
		token.DefaultIssuer != "waitroom" || token.DefaultAudience != "checkout" || c.Log.Level != slog.LevelInfo || c.Log.JSON {
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
		"KAFKA_CLIENT_ID":                "replica-7",
		"QUEUE_REGISTER_UNKNOWN_EVENTS":  "false",
		"QUEUE_EVENT_IDLE_TTL":           "90m",
		"WAITROOM_TOKEN_ISSUER":          "tickets",
		"LOG_LEVEL":                      "debug",
		"LOG_FORMAT":                     "json",
	}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.ProcessInterval != 250*time.Millisecond || c.Fanout.Resync != 2*time.Second ||
		c.Queue.SessionTTL != 10*time.Minute || c.Queue.DefaultMaxConcurrent != 7 ||
		strings.Join(c.RedisAddrs, "|") != "a:1|b:2|c:3" || !c.KafkaEnabled() || c.Kafka.Brokers[0] != "k:9092" ||
		c.Kafka.ClientID != "replica-7" || c.Queue.UnknownEvents != queue.RefuseUnknownEvents ||
		c.Queue.EventIdleTTL != 90*time.Minute ||
		c.Tokens.Issuer != "tickets" || c.Tokens.Audience != "" || c.Log.Level != slog.LevelDebug || !c.Log.JSON {
		t.Fatalf("parsed: %+v", c)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"LISTEN_ADDR":                     "no-port",
		"QUEUE_PROCESS_INTERVAL":          "soon",
		"QUEUE_SESSION_TTL":               "-5s",
		"QUEUE_DEFAULT_MAX_CONCURRENT":    "0",
		"CHECKOUT_URL":                    "ftp://x",
		"WAITROOM_ADMIN_TOKEN":            "short",
		"LOG_LEVEL":                       "loud",
		"WAITROOM_SIGNING_KEY_FILE":       "/does/not/exist.pem",
		"KAFKA_BROKERS":                   "no-port",
		"REDIS_ADDR":                      "a:1,no-port",
		"QUEUE_REGISTER_UNKNOWN_EVENTS":   "sometimes",
		"QUEUE_EVENT_IDLE_TTL":            "0s",
		"DEBUG_ADDR":                      "6060",
		"QUEUE_CHECKOUT_WINDOW":           "18446744074", // seconds: past int64 nanoseconds
		"QUEUE_STREAM_COALESCE":           "1ns",
		"QUEUE_POSITION_UPDATE_INTERVAL":  "9223372037",
		"WAITROOM_JOIN_AUTH":              "maybe",
		"WAITROOM_JOIN_KEYS_FILE":         "/does/not/exist.pem",
		"WAITROOM_JOIN_JWKS_URL":          "ftp://shop.example/jwks.json",
		"WAITROOM_JOIN_MAX_AGE":           "-1m",
		"WAITROOM_SERVICE_TOKENS_FILE":    "/does/not/exist",
		"WAITROOM_VERIFY_KEYS_FILE":       "/does/not/exist.pem",
		"WAITROOM_STREAM_MAX_AGE":         "1s",
		"QUEUE_STREAM_HEARTBEAT":          "-20s",
		"QUEUE_STREAM_REALTIME_POSITIONS": "0",
		"QUEUE_STREAM_MAX_INTERVAL":       "-5s",
		"WAITROOM_CONNS_PER_IP":           "-1",
		"WAITROOM_STREAMS_PER_IP":         "0",
		"WAITROOM_JOIN_RATE_PER_IP":       "-3",
		"WAITROOM_TRUSTED_PROXIES":        "10.0.0.0/33",
		"WAITROOM_STREAM_WRITE_TIMEOUT":   "500ms",
		"WAITROOM_H2_RESETS_PER_SECOND":   "0",
		"WAITROOM_H2_RESET_BURST":         "0",
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
		if secrets[name] && strings.Contains(err.Error(), value) {
			t.Errorf("%s: the error quotes the rejected secret", name)
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
		{"QUEUE_STREAM_HEARTBEAT", "20ms", "must be at least 1s (0 turns heartbeats off)", 0},
		{"QUEUE_STREAM_HEARTBEAT", "1s", "", time.Second},
		{"QUEUE_STREAM_HEARTBEAT", "45", "", 45 * time.Second},
		{"QUEUE_STREAM_HEARTBEAT", "0", "", -1},
		{"QUEUE_STREAM_HEARTBEAT", "0s", "", -1},
		{"QUEUE_STREAM_HEARTBEAT", "off", "", -1},
		{"QUEUE_STREAM_MAX_INTERVAL", "0s", "positive", 0},
		{"QUEUE_STREAM_MAX_INTERVAL", "10s", "", 10 * time.Second},
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
		case "QUEUE_STREAM_HEARTBEAT":
			got = cfg.Fanout.Heartbeat
		case "QUEUE_STREAM_MAX_INTERVAL":
			got = cfg.Fanout.MaxInterval
		}
		switch {
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%s=%s: %v, %v; want %v", c.name, c.value, got, err, c.want)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), c.name)):
			t.Errorf("%s=%s: error %v, want one naming it and saying %q", c.name, c.value, err, c.wantErr)
		}
	}
}

// TestConfigServiceTokensFile: one secret a line, comments and blank lines
// skipped, and a short secret refused without quoting it.
func TestConfigServiceTokensFile(t *testing.T) {
	files := map[string]string{
		"good":  "# backends\nbackend-one-0123456789abcdef\n\n  backend-two-0123456789abcdef  \n",
		"short": "backend-one-0123456789abcdef\nshort-secret\n",
	}
	defer func(old func(string) ([]byte, error)) { readFile = old }(readFile)
	readFile = func(name string) ([]byte, error) { return []byte(files[name]), nil }
	env := func(file string) func(string) string {
		return func(k string) string {
			return map[string]string{"WAITROOM_JOIN_AUTH": "token", "WAITROOM_SERVICE_TOKENS_FILE": file}[k]
		}
	}
	c, err := ConfigFromEnv(env("good"))
	if err != nil || !c.JoinAuth.Token ||
		strings.Join(c.JoinAuth.ServiceTokens, "|") != "backend-one-0123456789abcdef|backend-two-0123456789abcdef" {
		t.Fatalf("parsed %+v, %v", c.JoinAuth, err)
	}
	_, err = ConfigFromEnv(env("short"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "short-secret") {
		t.Fatalf("a short service token: %v", err)
	}
}

// TestConfigStreamAndResetLimits: the write timeout and the HTTP/2 reset
// bucket are read, and off turns each off.
func TestConfigStreamAndResetLimits(t *testing.T) {
	read := func(env map[string]string) Config {
		t.Helper()
		c, err := ConfigFromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := read(map[string]string{"WAITROOM_STREAM_WRITE_TIMEOUT": "5s",
		"WAITROOM_H2_RESETS_PER_SECOND": "12.5", "WAITROOM_H2_RESET_BURST": "40"})
	if c.StreamLimit.WriteTimeout != 5*time.Second || c.H2ResetsPerSecond != 12.5 || c.H2ResetBurst != 40 {
		t.Fatalf("parsed %+v", c)
	}
	c = read(map[string]string{"WAITROOM_STREAM_WRITE_TIMEOUT": "off", "WAITROOM_H2_RESETS_PER_SECOND": "off"})
	if c.StreamLimit.WriteTimeout >= 0 || c.H2ResetsPerSecond >= 0 {
		t.Fatalf("off parsed as %v, %v", c.StreamLimit.WriteTimeout, c.H2ResetsPerSecond)
	}
	if d := (Config{}).withDefaults(); d.H2ResetsPerSecond != DefaultH2ResetsPerSecond || d.H2ResetBurst != DefaultH2ResetBurst {
		t.Fatalf("defaults %v, %v", d.H2ResetsPerSecond, d.H2ResetBurst)
	}
}
