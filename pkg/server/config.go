package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// Config is everything the server reads from its environment.
type Config struct {
	// ListenAddr is the one port for gRPC, gRPC-Web and Connect (LISTEN_ADDR).
	ListenAddr string
	Queue      queue.Config
	Fanout     fanout.Config

	// RedisAddrs selects the Redis store when set (REDIS_ADDR); empty runs the
	// embedded in-memory store.
	RedisAddrs []string

	// Kafka turns on queue events when KafkaEnabled (KAFKA_BROKERS is set).
	Kafka        kafka.Config
	KafkaEnabled bool

	// SigningKeyPEM is the checkout tokens' private key (WAITROOM_SIGNING_KEY,
	// or the file WAITROOM_SIGNING_KEY_FILE); empty generates one at start.
	SigningKeyPEM []byte
	TokenIssuer   string
	TokenAudience string

	// AdminToken enables EventAdminService for bearers of it.
	AdminToken string
	// CORSOrigins may call the API from browsers on other origins.
	CORSOrigins []string
	// MaxStreamsPerConn caps concurrent HTTP/2 streams on one connection.
	MaxStreamsPerConn uint32
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
	// DebugAddr serves Go's profiler (net/http/pprof) and /debug/stats on a
	// listener of its own when set (DEBUG_ADDR); never expose it publicly.
	DebugAddr string

	LogLevel  slog.Level
	LogFormat string
}

// setting is one environment variable: its default and how to read it.
type setting struct {
	name  string
	def   string
	parse func(string) error
}

// ConfigFromEnv reads the configuration; getenv is os.Getenv in production.
// An error names the variable that is wrong.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var keyFile, keyPEM string
	settings := []setting{
		{"LISTEN_ADDR", ":50056", func(s string) error {
			if _, _, err := net.SplitHostPort(s); err != nil {
				return err
			}
			c.ListenAddr = s
			return nil
		}},
		// Floors keep a typo (1ns) from spinning a core on every event.
		{"QUEUE_PROCESS_INTERVAL", "1s", durationAtLeast(&c.Queue.ProcessInterval, 10*time.Millisecond)},
		{"QUEUE_POSITION_UPDATE_INTERVAL", "5s", durationAtLeast(&c.Fanout.Resync, 100*time.Millisecond)},
		{"QUEUE_STREAM_COALESCE", "100ms", durationAtLeast(&c.Fanout.Coalesce, time.Millisecond)},
		{"QUEUE_SESSION_TTL", "7200s", positiveDuration(&c.Queue.SessionTTL)},
		{"QUEUE_CHECKOUT_WINDOW", "10m", positiveDuration(&c.Queue.CheckoutWindow)},
		{"QUEUE_DEFAULT_MAX_CONCURRENT", "100", func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				return fmt.Errorf("want a whole number of at least 1")
			}
			c.Queue.DefaultMaxConcurrent = n
			return nil
		}},
		{"QUEUE_ADMIT_BATCH", "1000", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return fmt.Errorf("want a whole number of at least 1")
			}
			c.Queue.AdmitBatch = n
			return nil
		}},
		{"QUEUE_REGISTER_UNKNOWN_EVENTS", "true", func(s string) error {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			c.Queue.UnknownEvents = queue.RegisterUnknownEvents
			if !b {
				c.Queue.UnknownEvents = queue.RefuseUnknownEvents
			}
			return nil
		}},
		{"CHECKOUT_URL", "/checkout", func(s string) error {
			c.Queue.CheckoutURL = s
			return queue.ValidateCheckoutURL("CHECKOUT_URL", s)
		}},
		{"REDIS_ADDR", "", hostPorts(&c.RedisAddrs)},
		{"KAFKA_BROKERS", "", hostPorts(&c.Kafka.Brokers)},
		{"KAFKA_TOPIC_PREFIX", "", func(s string) error { c.Kafka.TopicPrefix = s; return nil }},
		{"KAFKA_CLIENT_ID", kafka.DefaultClientID, func(s string) error { c.Kafka.ClientID = s; return nil }},
		{"KAFKA_CONSUMER_GROUP", kafka.DefaultGroup, func(s string) error { c.Kafka.Group = s; return nil }},
		{"WAITROOM_SIGNING_KEY_FILE", "", func(s string) error { keyFile = s; return nil }},
		{"WAITROOM_SIGNING_KEY", "", func(s string) error { keyPEM = s; return nil }},
		{"WAITROOM_TOKEN_ISSUER", "waitroom", nonEmpty(&c.TokenIssuer)},
		{"WAITROOM_TOKEN_AUDIENCE", "checkout", nonEmpty(&c.TokenAudience)},
		{"WAITROOM_ADMIN_TOKEN", "", func(s string) error {
			if s != "" && len(s) < 16 {
				return fmt.Errorf("must be at least 16 characters")
			}
			c.AdminToken = s
			return nil
		}},
		{"CORS_ALLOWED_ORIGINS", "", list(&c.CORSOrigins)},
		{"HTTP2_MAX_CONCURRENT_STREAMS", "1000", func(s string) error {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil || n < 1 {
				return fmt.Errorf("want a whole number of at least 1")
			}
			c.MaxStreamsPerConn = uint32(n)
			return nil
		}},
		{"SHUTDOWN_TIMEOUT", "10s", positiveDuration(&c.ShutdownTimeout)},
		{"DEBUG_ADDR", "", func(s string) error {
			if s == "" {
				return nil
			}
			if _, _, err := net.SplitHostPort(s); err != nil {
				return err
			}
			c.DebugAddr = s
			return nil
		}},
		{"LOG_LEVEL", "info", func(s string) error { return c.LogLevel.UnmarshalText([]byte(s)) }},
		{"LOG_FORMAT", "text", func(s string) error {
			if s != "text" && s != "json" {
				return fmt.Errorf("want text or json")
			}
			c.LogFormat = s
			return nil
		}},
	}
	for _, s := range settings {
		v := strings.TrimSpace(getenv(s.name))
		if v == "" {
			v = s.def
		}
		if err := s.parse(v); err != nil {
			return Config{}, fmt.Errorf("%s=%q: %v", s.name, v, err)
		}
	}
	c.KafkaEnabled = len(c.Kafka.Brokers) > 0
	switch {
	case keyFile != "" && keyPEM != "":
		return Config{}, fmt.Errorf("WAITROOM_SIGNING_KEY and WAITROOM_SIGNING_KEY_FILE are both set: set one")
	case keyPEM != "":
		c.SigningKeyPEM = []byte(keyPEM)
	case keyFile != "":
		b, err := readFile(keyFile)
		if err != nil {
			return Config{}, fmt.Errorf("WAITROOM_SIGNING_KEY_FILE: %v", err)
		}
		c.SigningKeyPEM = b
	}
	return c, nil
}

// positiveDuration reads a Go duration ("1s", "250ms") or a whole number of
// seconds ("7200").
func positiveDuration(dst *time.Duration) func(string) error {
	return durationAtLeast(dst, time.Nanosecond)
}

// durationAtLeast is positiveDuration with a floor.
func durationAtLeast(dst *time.Duration, floor time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			n, nerr := strconv.ParseInt(s, 10, 64)
			const maxSeconds = math.MaxInt64 / int64(time.Second)
			switch {
			case errors.Is(nerr, strconv.ErrRange), nerr == nil && n > maxSeconds:
				return fmt.Errorf("too large (at most %d seconds)", maxSeconds)
			case nerr != nil:
				return fmt.Errorf("want a duration such as 1s, 250ms or 7200s (at most %v)", time.Duration(math.MaxInt64))
			}
			d = time.Duration(n) * time.Second
		}
		switch {
		case d <= 0:
			return fmt.Errorf("must be positive")
		case d < floor:
			return fmt.Errorf("must be at least %v", floor)
		}
		*dst = d
		return nil
	}
}

func nonEmpty(dst *string) func(string) error {
	return func(s string) error {
		if s == "" {
			return fmt.Errorf("must not be empty")
		}
		*dst = s
		return nil
	}
}

// hostPorts reads a comma-separated list of host:port addresses.
func hostPorts(dst *[]string) func(string) error {
	return func(s string) error {
		if err := list(dst)(s); err != nil {
			return err
		}
		for _, a := range *dst {
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
				return fmt.Errorf("%q is not host:port", a)
			}
		}
		return nil
	}
}

// list reads a comma-separated list, dropping empty items.
func list(dst *[]string) func(string) error {
	return func(s string) error {
		*dst = nil
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*dst = append(*dst, item)
			}
		}
		return nil
	}
}
