package kafka

import (
	"context"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/waitroom/waitroom/internal/wire"
)

// Topic names, before the configured prefix. Each change goes to the topic
// named after its QueueEvent type.
const (
	TopicJoined            = wire.TypeJoined
	TopicLeft              = wire.TypeLeft
	TopicAdmitted          = wire.TypeAdmitted
	TopicExpired           = wire.TypeExpired
	TopicCompleted         = wire.TypeCompleted
	TopicPlaced            = wire.TypePlaced
	TopicCheckoutCompleted = "checkout.completed"
)

// Defaults for Config.
const (
	DefaultBroker          = "localhost:9092"
	DefaultClientID        = "waitroom"
	DefaultGroup           = "waitroom"
	DefaultDeliveryTimeout = 30 * time.Second
	DefaultTopicPartitions = 1
)

// Config says how to reach Kafka and what to call things there. Zero fields
// take the defaults.
type Config struct {
	// Brokers are the seed brokers, host:port (default DefaultBroker).
	Brokers []string
	// TopicPrefix goes in front of every topic name, e.g. "prod." gives
	// "prod.queue.joined". Empty by default.
	TopicPrefix string
	// ClientID names this client in the brokers' logs and quotas.
	ClientID string
	// Group is the consumer group that reads checkout.completed.
	Group string
	// DeliveryTimeout bounds how long a record may wait to be produced before
	// the relay hears it failed and backs off; the outbox keeps it meanwhile.
	DeliveryTimeout time.Duration
	// AllowAutoTopicCreation lets producing create missing topics, where the
	// cluster allows it. Production clusters usually create topics up front.
	AllowAutoTopicCreation bool
	// CreateTopics has the server create the topics it produces and consumes
	// at start when they are missing (CreateTopics); an existing topic is
	// left as it is.
	CreateTopics bool
	// TopicPartitions is the partition count of a topic CreateTopics creates
	// (default DefaultTopicPartitions); -1 takes the broker's num.partitions.
	TopicPartitions int32
	// TopicReplication is the replication factor of a topic CreateTopics
	// creates; zero or -1 takes the broker's default.replication.factor.
	TopicReplication int16
	// TLS, when set, dials every broker over TLS with it: nil RootCAs trusts
	// the system's roots, and an empty ServerName checks each broker's
	// certificate against the host it was dialed by. Nil dials in the clear.
	TLS *tls.Config
	// SASL, when set, authenticates every connection with it (NewSASL
	// builds one from a mechanism's name). Nil authenticates nothing.
	SASL sasl.Mechanism
	// Logger receives the client's own warnings and errors, rate-limited
	// (LimitWarnings); nil discards them.
	Logger *slog.Logger
	// Opts are appended to the client options (tuning).
	Opts []kgo.Opt
}

func (c Config) withDefaults() Config {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{DefaultBroker}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if c.TopicPartitions == 0 {
		c.TopicPartitions = DefaultTopicPartitions
	}
	if c.TopicReplication == 0 {
		c.TopicReplication = -1
	}
	if c.Logger != nil {
		c.Logger = LimitWarnings(c.Logger)
	}
	return c
}

// Topic returns a topic's full name: the prefix, then name.
func (c Config) Topic(name string) string { return c.TopicPrefix + name }

// ProducedTopics are the full names of the topics the relay writes.
func (c Config) ProducedTopics() []string {
	return []string{
		c.Topic(TopicJoined), c.Topic(TopicLeft), c.Topic(TopicAdmitted),
		c.Topic(TopicExpired), c.Topic(TopicCompleted), c.Topic(TopicPlaced),
	}
}

// clientOpts are the options every client of cfg starts with: where the
// brokers are, how to reach them and who this is. cfg has its defaults.
func (c Config) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.WithLogger(kgoLogger{c.Logger}),
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	return opts
}

// NewProducerClient returns the client for a Relay: idempotent (franz-go's
// default), acks from all in-sync replicas, and a delivery timeout that bounds
// every record, even one in flight when the broker died, so that a relay hears
// about a dead broker and backs off instead of waiting for it. Nothing on a
// request path uses it.
func NewProducerClient(cfg Config) (*kgo.Client, error) {
	cfg = cfg.withDefaults()
	opts := append(cfg.clientOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		// By default an idempotent record already sent is never failed (the
		// client cannot tell whether the broker wrote it), so a broker that
		// dies mid-request would hold the relay's batch until it returns.
		// Letting the delivery timeout fail such records keeps the relay's
		// view of an outage bounded; its entries stay in the outbox and are
		// produced again, and the copy that may result carries the same
		// record id, which consumers de-duplicate on anyway.
		kgo.AllowIdempotentProduceCancellation(),
		kgo.ProduceRequestTimeout(min(10*time.Second, cfg.DeliveryTimeout)),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if cfg.AllowAutoTopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	return kgo.NewClient(append(opts, cfg.Opts...)...)
}

// NewConsumerClient returns the client for a CheckoutConsumer: a member of
// cfg.Group reading checkout.completed, committing only the offsets of
// records the consumer has finished with (at least once).
func NewConsumerClient(cfg Config) (*kgo.Client, error) {
	cfg = cfg.withDefaults()
	opts := append(cfg.clientOpts(),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic(TopicCheckoutCompleted)),
		// A new group starts at the oldest record: replaying a completion is
		// harmless, missing one holds a slot until its deadline.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitMarks(),
		// UNKNOWN_TOPIC_ID at once, not after franz-go's own retries, so a
		// re-created topic is picked up without delay (CheckoutConsumer.Run);
		// the other retryable errors come along, and are only logged.
		kgo.KeepRetryableFetchErrors(),
	)
	return kgo.NewClient(append(opts, cfg.Opts...)...)
}

// kgoLogger hands franz-go's log lines to slog. Its warnings repeat on every
// retry while a broker is down, so they go to debug; the relay reports an
// outage itself.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l == nil {
		return kgo.LogLevelNone
	}
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if k.l == nil {
		return
	}
	l := slog.LevelDebug
	if level == kgo.LogLevelError {
		l = slog.LevelWarn
	}
	for _, v := range keyvals {
		if err, ok := v.(error); ok && refused(err) {
			// Unlike a broker outage, this does not end by itself.
			k.l.Error("Kafka refuses this client's credentials or permissions; nothing is relayed or consumed until they are fixed",
				append([]any{"client_message", msg}, keyvals...)...)
			return
		}
	}
	k.l.Log(context.Background(), l, "kafka client: "+msg, keyvals...)
}
