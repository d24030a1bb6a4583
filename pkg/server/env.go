package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// setting is one environment variable and how to read it into a Config. A
// variable that is unset (or blank) leaves its field alone, so the field
// keeps its zero value and the component it configures its own default.
type setting struct {
	name  string
	parse func(string) error
}

// secrets are the variables whose values an error must not quote, not even
// a rejected one. An OTLP endpoint may carry credentials in its URL.
var secrets = map[string]bool{"WAITROOM_SIGNING_KEY": true, "WAITROOM_ADMIN_TOKEN": true, "KAFKA_SASL_PASSWORD": true,
	"OTEL_EXPORTER_OTLP_ENDPOINT": true}

// ConfigFromEnv reads the configuration; getenv is os.Getenv in production.
// An error names the variable that is wrong.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var key signingKeySource
	var kafkaSec kafkaSecurity
	groups := [][]setting{
		listenSettings(&c),
		queueSettings(&c.Queue),
		fanoutSettings(&c.Fanout),
		storeSettings(&c),
		kafkaSettings(&c.Kafka),
		kafkaSecuritySettings(&kafkaSec),
		tokenSettings(&c, &key),
		joinAuthSettings(&c.JoinAuth),
		limitSettings(&c.JoinLimit),
		streamLimitSettings(&c.StreamLimit),
		httpSettings(&c),
		logSettings(&c.Log),
	}
	for _, group := range groups {
		for _, s := range group {
			v := strings.TrimSpace(getenv(s.name))
			if v == "" {
				continue
			}
			if err := s.parse(v); err != nil {
				if secrets[s.name] {
					return Config{}, fmt.Errorf("%s: %v", s.name, err)
				}
				return Config{}, fmt.Errorf("%s=%q: %v", s.name, v, err)
			}
		}
	}
	if err := kafkaSec.apply(&c.Kafka); err != nil {
		return Config{}, err
	}
	pem, err := key.read()
	if err != nil {
		return Config{}, err
	}
	c.SigningKeyPEM = pem
	return c, nil
}

func listenSettings(c *Config) []setting {
	return []setting{
		{"LISTEN_ADDR", hostPort(&c.ListenAddr)},
		{"DEBUG_ADDR", hostPort(&c.DebugAddr)},
		{"METRICS_ADDR", func(s string) error {
			if s == MetricsOff {
				c.MetricsAddr = s
				return nil
			}
			if err := hostPort(&c.MetricsAddr)(s); err != nil {
				return fmt.Errorf("want host:port or off: %v", err)
			}
			return nil
		}},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", httpURL(&c.OTLPEndpoint)},
	}
}

func queueSettings(q *queue.Config) []setting {
	return []setting{
		// Floors keep a typo (1ns) from spinning a core on every event.
		{"QUEUE_PROCESS_INTERVAL", durationAtLeast(&q.ProcessInterval, queue.MinProcessInterval)},
		{"QUEUE_SESSION_TTL", positiveDuration(&q.SessionTTL)},
		{"QUEUE_CHECKOUT_WINDOW", positiveDuration(&q.CheckoutWindow)},
		{"QUEUE_DEFAULT_MAX_CONCURRENT", func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				return errWantCount
			}
			q.DefaultMaxConcurrent = n
			return nil
		}},
		{"QUEUE_ADMIT_BATCH", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return errWantCount
			}
			q.AdmitBatch = n
			return nil
		}},
		{"QUEUE_REGISTER_UNKNOWN_EVENTS", func(s string) error {
			register, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			q.UnknownEvents = queue.RegisterUnknownEvents
			if !register {
				q.UnknownEvents = queue.RefuseUnknownEvents
			}
			return nil
		}},
		{"QUEUE_EVENT_IDLE_TTL", positiveDuration(&q.EventIdleTTL)},
		{"QUEUE_PRESENCE_GRACE", presenceGrace(&q.PresenceGrace)},
		{"QUEUE_ABSENT_TTL", positiveDuration(&q.AbsentTTL)},
		{"CHECKOUT_URL", func(s string) error {
			q.CheckoutURL = s
			return queue.ValidateCheckoutURL("CHECKOUT_URL", s)
		}},
	}
}

func fanoutSettings(f *fanout.Config) []setting {
	return []setting{
		// The guide's name for what is now the views' resync: how often each
		// event's view checks itself against the store.
		{"QUEUE_POSITION_UPDATE_INTERVAL", durationAtLeast(&f.Resync, fanout.MinResync)},
		{"QUEUE_STREAM_COALESCE", durationAtLeast(&f.Coalesce, fanout.MinCoalesce)},
		{"QUEUE_STREAM_HEARTBEAT", streamHeartbeat(&f.Heartbeat)},
		{"QUEUE_STREAM_REALTIME_POSITIONS", func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				return errWantCount
			}
			f.RealtimePositions = n
			return nil
		}},
		{"QUEUE_STREAM_MAX_INTERVAL", positiveDuration(&f.MaxInterval)},
		{"WAITROOM_STREAM_MAX_AGE", func(s string) error {
			if s == "off" {
				f.MaxAge = -1
				return nil
			}
			return durationAtLeast(&f.MaxAge, time.Minute)(s)
		}},
	}
}

// MinStreamHeartbeat is the shortest QUEUE_STREAM_HEARTBEAT: each round
// costs a message per quiet stream (see BENCHMARKS.md), and "20ms" for "20s"
// must not flood every client.
const MinStreamHeartbeat = time.Second

// streamHeartbeat reads QUEUE_STREAM_HEARTBEAT: a duration of at least
// MinStreamHeartbeat, or 0 (or off) for none, stored as -1.
func streamHeartbeat(dst *time.Duration) func(string) error {
	return func(s string) error {
		if s == "off" {
			*dst = -1
			return nil
		}
		if d, err := time.ParseDuration(s); err == nil && d == 0 || s == "0" {
			*dst = -1
			return nil
		}
		if err := durationAtLeast(dst, MinStreamHeartbeat)(s); err != nil {
			return fmt.Errorf("%v (0 turns heartbeats off)", err)
		}
		return nil
	}
}

// MinRedisTimeout is the shortest REDIS_TIMEOUT: a busy machine delays a
// healthy Redis's answers by more than a few milliseconds, and a timeout is
// not the place to detect that Redis is down (a refused connection is).
const MinRedisTimeout = 100 * time.Millisecond

func storeSettings(c *Config) []setting {
	return []setting{
		{"REDIS_ADDR", hostPorts(&c.RedisAddrs)},
		{"REDIS_TIMEOUT", durationAtLeast(&c.RedisTimeout, MinRedisTimeout)},
		{"WAITROOM_STORE", func(s string) error {
			switch s {
			case StoreDisk, StoreMemory:
				c.Store = s
				return nil
			}
			return fmt.Errorf("want %s or %s", StoreDisk, StoreMemory)
		}},
		{"WAITROOM_DATA_DIR", text(&c.DataDir)},
	}
}

func kafkaSettings(k *kafka.Config) []setting {
	return []setting{
		{"KAFKA_BROKERS", hostPorts(&k.Brokers)},
		{"KAFKA_TOPIC_PREFIX", text(&k.TopicPrefix)},
		{"KAFKA_CLIENT_ID", text(&k.ClientID)},
		{"KAFKA_CONSUMER_GROUP", text(&k.Group)},
		{"KAFKA_CREATE_TOPICS", func(s string) error {
			create, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("want true or false")
			}
			k.CreateTopics = create
			return nil
		}},
		{"KAFKA_TOPIC_PARTITIONS", func(s string) error {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil || n < 1 && n != -1 {
				return fmt.Errorf("want a partition count of at least 1, or -1 for the broker's default")
			}
			k.TopicPartitions = int32(n)
			return nil
		}},
		{"KAFKA_TOPIC_REPLICATION", func(s string) error {
			n, err := strconv.ParseInt(s, 10, 16)
			if err != nil || n < 1 && n != -1 {
				return fmt.Errorf("want a replication factor of at least 1, or -1 for the broker's default")
			}
			k.TopicReplication = int16(n)
			return nil
		}},
	}
}

func tokenSettings(c *Config, key *signingKeySource) []setting {
	return []setting{
		{"WAITROOM_SIGNING_KEY_FILE", text(&key.file)},
		{"WAITROOM_SIGNING_KEY", text(&key.pem)},
		{"WAITROOM_TOKEN_ISSUER", text(&c.Tokens.Issuer)},
		{"WAITROOM_TOKEN_AUDIENCE", text(&c.Tokens.Audience)},
		{"WAITROOM_VERIFY_KEYS_FILE", publicKeysFile(&c.Tokens.ExtraPublicKeys)},
		{"WAITROOM_ADMIN_TOKEN", func(s string) error {
			if len(s) < 16 {
				return fmt.Errorf("must be at least 16 characters")
			}
			c.AdminToken = s
			return nil
		}},
	}
}

func joinAuthSettings(j *JoinAuthConfig) []setting {
	v := &j.JoinTokens
	return []setting{
		{"WAITROOM_JOIN_AUTH", func(s string) error {
			switch s {
			case "open", "token":
				j.Token = s == "token"
				return nil
			}
			return fmt.Errorf("want open or token")
		}},
		{"WAITROOM_SERVICE_TOKENS_FILE", serviceTokensFile(&j.ServiceTokens)},
		{"WAITROOM_JOIN_KEYS_FILE", publicKeysFile(&v.Keys)},
		{"WAITROOM_JOIN_JWKS_URL", httpURL(&v.JWKSURL)},
		{"WAITROOM_JOIN_ISSUER", text(&v.Issuer)},
		{"WAITROOM_JOIN_AUDIENCE", text(&v.Audience)},
		{"WAITROOM_JOIN_MAX_AGE", positiveDuration(&v.MaxAge)},
	}
}

func limitSettings(l *api.JoinLimitConfig) []setting {
	return []setting{
		{"WAITROOM_JOIN_RATE_PER_IP", func(s string) error {
			if s == "off" {
				l.PerSecond = -1
				return nil
			}
			r, err := strconv.ParseFloat(s, 64)
			if err != nil || !(r > 0) || math.IsInf(r, 0) {
				return errors.New("want joins per second above 0, or off")
			}
			l.PerSecond = r
			return nil
		}},
		{"WAITROOM_JOIN_BURST_PER_IP", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return errWantCount
			}
			l.Burst = n
			return nil
		}},
		{"WAITROOM_TRUSTED_PROXIES", prefixes(&l.TrustedProxies)},
	}
}

func streamLimitSettings(l *api.StreamLimitConfig) []setting {
	return []setting{
		{"WAITROOM_STREAMS_PER_SESSION", capOrOff(&l.PerSession)},
		{"WAITROOM_STREAMS_PER_IP", capOrOff(&l.PerIP)},
		{"WAITROOM_MAX_STREAMS", capOrOff(&l.Max)},
		{"WAITROOM_STREAM_WRITE_TIMEOUT", func(s string) error {
			if s == "off" {
				l.WriteTimeout = -1
				return nil
			}
			return durationAtLeast(&l.WriteTimeout, time.Second)(s)
		}},
	}
}

func httpSettings(c *Config) []setting {
	return []setting{
		{"CORS_ALLOWED_ORIGINS", list(&c.CORSOrigins)},
		{"HTTP2_MAX_CONCURRENT_STREAMS", func(s string) error {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil || n < 1 {
				return errWantCount
			}
			c.MaxStreamsPerConn = uint32(n)
			return nil
		}},
		{"SHUTDOWN_TIMEOUT", positiveDuration(&c.ShutdownTimeout)},
		{"WAITROOM_CONNS_PER_IP", capOrOff(&c.MaxConnsPerIP)},
		{"WAITROOM_H2_RESETS_PER_SECOND", func(s string) error {
			if s == "off" {
				c.H2ResetsPerSecond = -1
				return nil
			}
			r, err := strconv.ParseFloat(s, 64)
			if err != nil || !(r > 0) || math.IsInf(r, 0) {
				return errors.New("want resets per second above 0, or off")
			}
			c.H2ResetsPerSecond = r
			return nil
		}},
		{"WAITROOM_H2_RESET_BURST", func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return errWantCount
			}
			c.H2ResetBurst = n
			return nil
		}},
	}
}

func logSettings(l *LogConfig) []setting {
	return []setting{
		{"LOG_LEVEL", func(s string) error { return l.Level.UnmarshalText([]byte(s)) }},
		{"LOG_FORMAT", func(s string) error {
			switch s {
			case "text", "json":
				l.JSON = s == "json"
				return nil
			}
			return fmt.Errorf("want text or json")
		}},
	}
}

// signingKeySource is where the checkout tokens' key comes from: the PEM
// itself or a file holding it, not both.
type signingKeySource struct{ file, pem string }

func (k signingKeySource) read() ([]byte, error) {
	switch {
	case k.file != "" && k.pem != "":
		return nil, fmt.Errorf("WAITROOM_SIGNING_KEY and WAITROOM_SIGNING_KEY_FILE are both set: set one")
	case k.pem != "":
		return []byte(k.pem), nil
	case k.file != "":
		b, err := readFile(k.file)
		if err != nil {
			return nil, fmt.Errorf("WAITROOM_SIGNING_KEY_FILE: %v", err)
		}
		return b, nil
	}
	return nil, nil
}
