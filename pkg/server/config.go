package server

import (
	"io"
	"log/slog"
	"time"

	"github.com/waitroom/waitroom/internal/serveconf"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/token"
)

// Defaults for Config's own fields; the components' settings default in
// their own packages.
const (
	DefaultListenAddr        = ":50056"
	DefaultMaxStreamsPerConn = serveconf.DefaultMaxStreamsPerConn
	DefaultShutdownTimeout   = 10 * time.Second
	// DefaultMetricsAddr is where /metrics is served for Prometheus, the
	// port OpenTelemetry's Prometheus exporter conventionally uses.
	DefaultMetricsAddr = ":9464"
	// MetricsOff as MetricsAddr serves no metrics.
	MetricsOff = "off"
	// DefaultDataDir is where the disk store keeps its data, relative to
	// the working directory.
	DefaultDataDir = "./waitroom-data"
)

// The embedded stores (Config.Store).
const (
	// StoreDisk keeps every acknowledged change in DataDir (the default).
	StoreDisk = "disk"
	// StoreMemory keeps everything in memory: nothing survives a restart.
	StoreMemory = "memory"
)

// Config is everything a replica is built from. The zero value is a working
// server: the embedded store on DefaultListenAddr, no Kafka, no admin API, a
// signing key generated at start, every component at its own defaults.
// ConfigFromEnv builds one from the environment.
type Config struct {
	// ListenAddr is the one port for gRPC, gRPC-Web and Connect.
	ListenAddr string
	// Queue is the domain service's and processor's settings. Its Changed
	// and (when nil) Logger are set by New.
	Queue queue.Config
	// Fanout is the position streams' settings. Its Logger, when nil, is set
	// by New.
	Fanout fanout.Config

	// Store is the embedded store, used when RedisAddrs is empty: StoreDisk
	// (the default) or StoreMemory.
	Store string
	// DataDir is StoreDisk's directory (DefaultDataDir), created on first
	// start.
	DataDir string
	// RedisAddrs selects the Redis store when set; empty runs the embedded
	// store.
	RedisAddrs []string
	// RedisTimeout bounds each Redis call and how long a silent connection
	// is waited for (redisstore.DefaultTimeout when 0).
	RedisTimeout time.Duration

	// Kafka relays queue events to Kafka and reads checkout.completed from
	// it when Kafka.Brokers is set. Its Logger, when nil, is set by New.
	Kafka kafka.Config

	// SigningKeyPEM is the checkout tokens' private key; empty generates one
	// at start, valid for this process only.
	SigningKeyPEM []byte
	// Tokens is the checkout tokens' issuer and audience.
	Tokens token.IssuerConfig

	// JoinAuth says who may join as whom; the zero value is open mode.
	JoinAuth JoinAuthConfig
	// JoinLimit limits joins per client address; the zero value is the
	// defaults (api.DefaultJoinRatePerIP, api.DefaultJoinBurstPerIP).
	JoinLimit api.JoinLimitConfig
	// StreamLimit caps open position streams per session, per client address
	// and per replica, and ends a stream whose update cannot be written in
	// time; the zero value is the defaults (api.DefaultStreams…,
	// api.DefaultStreamWriteTimeout).
	StreamLimit api.StreamLimitConfig

	// AdminToken enables EventAdminService for bearers of it.
	AdminToken string
	// CORSOrigins may call the API from browsers on other origins.
	CORSOrigins []string
	// MaxStreamsPerConn caps concurrent HTTP/2 streams on one connection
	// (DefaultMaxStreamsPerConn).
	MaxStreamsPerConn uint32
	// MaxConnsPerIP caps the connections one client address holds open
	// (DefaultMaxConnsPerIP; negative: no cap). Trusted proxies
	// (JoinLimit.TrustedProxies) are not capped.
	MaxConnsPerIP int
	// H2ResetsPerSecond and H2ResetBurst are the token bucket of RST_STREAM
	// frames one HTTP/2 connection may send; over it the connection gets
	// GOAWAY and is closed (DefaultH2ResetsPerSecond, DefaultH2ResetBurst;
	// a negative rate: no limit).
	H2ResetsPerSecond float64
	H2ResetBurst      int
	// ShutdownTimeout bounds a graceful stop (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// DebugAddr, when set, serves Go's profiler (net/http/pprof) and
	// /debug/stats on a listener of its own; never expose it publicly.
	DebugAddr string
	// MetricsAddr serves the metrics at /metrics on a listener of its own,
	// for Prometheus to scrape (DefaultMetricsAddr); MetricsOff serves
	// none. With it off and no OTLPEndpoint, no metric is recorded.
	MetricsAddr string
	// OTLPEndpoint, when set, exports traces and metrics over OTLP/HTTP to
	// this base URL (the standard OTEL_EXPORTER_OTLP_ENDPOINT). Empty: no
	// span is recorded.
	OTLPEndpoint string

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Log is how cmd/waitroom builds Logger; the server itself only reads
	// Logger.
	Log LogConfig
}

// KafkaEnabled says whether the replica relays to and reads from Kafka.
func (c Config) KafkaEnabled() bool { return len(c.Kafka.Brokers) > 0 }

func (c Config) withDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.Store == "" {
		c.Store = StoreDisk
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.MaxStreamsPerConn == 0 {
		c.MaxStreamsPerConn = DefaultMaxStreamsPerConn
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if c.H2ResetsPerSecond == 0 {
		c.H2ResetsPerSecond = DefaultH2ResetsPerSecond
	}
	if c.H2ResetBurst <= 0 {
		c.H2ResetBurst = DefaultH2ResetBurst
	}
	if c.MetricsAddr == "" {
		c.MetricsAddr = DefaultMetricsAddr
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// LogConfig is the log output's level and format.
type LogConfig struct {
	// Level is the lowest level written; the zero value is slog.LevelInfo.
	Level slog.Level
	// JSON writes one JSON object per line instead of slog's text format.
	JSON bool
}

// NewLogger returns a logger writing to w as c says.
func (c LogConfig) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
