package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/queue"
)

// Completer frees an admitted session's checkout slot, as the CompleteCheckout
// RPC does. The domain service satisfies it.
type Completer interface {
	CompleteCheckout(ctx context.Context, sessionID string) error
	CompleteCheckoutToken(ctx context.Context, token string) error
}

// CheckoutConsumerConfig tunes a CheckoutConsumer. Zero fields take the
// defaults.
type CheckoutConsumerConfig struct {
	// RetryMin and RetryMax bound the wait between attempts while the store
	// or the broker is unavailable (defaults 200ms and 5s).
	RetryMin, RetryMax time.Duration
	// HandleTimeout bounds one attempt to complete a session (default 10s).
	HandleTimeout time.Duration
	// CommitTimeout bounds the commit of handled offsets when Run ends
	// (default DefaultCommitTimeout); what is not committed is replayed,
	// harmlessly, by the next member.
	CommitTimeout time.Duration
	// Logger receives the consumer's reports, its warnings rate-limited
	// (LimitWarnings); nil discards them.
	Logger *slog.Logger
}

// DefaultCommitTimeout is CheckoutConsumerConfig.CommitTimeout's default.
const DefaultCommitTimeout = 5 * time.Second

func (c CheckoutConsumerConfig) withDefaults() CheckoutConsumerConfig {
	if c.RetryMin <= 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Second
	}
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	if c.HandleTimeout <= 0 {
		c.HandleTimeout = 10 * time.Second
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	c.Logger = LimitWarnings(c.Logger)
	return c
}

// CheckoutConsumer reads checkout.completed and completes the sessions it
// names. It commits a record's offset only after handling it (at least once);
// duplicates, late, unknown and malformed records are logged and skipped, and
// a store outage holds the record and retries it.
type CheckoutConsumer struct {
	client    *kgo.Client
	completer Completer
	cfg       CheckoutConsumerConfig
	log       *slog.Logger
}

// NewCheckoutConsumer returns a consumer over client, which should come from
// NewConsumerClient (a group member with AutoCommitMarks). Run starts it.
func NewCheckoutConsumer(client *kgo.Client, completer Completer, cfg CheckoutConsumerConfig) *CheckoutConsumer {
	cfg = cfg.withDefaults()
	return &CheckoutConsumer{
		client:    client,
		completer: completer,
		cfg:       cfg,
		log:       cfg.Logger.With("component", "checkout-consumer"),
	}
}

// Run consumes until ctx ends, commits what it handled and returns ctx's
// error. The caller closes the client afterwards.
func (c *CheckoutConsumer) Run(ctx context.Context) error {
	c.log.Info("Checkout consumer started")
	defer c.log.Info("Checkout consumer stopped")
	defer c.commit()
	var wait time.Duration // after a poll that only failed
	recreatedAt := map[string]time.Time{}
	for {
		fetches := c.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fetches.IsClientClosed() {
			return errors.New("kafka: consumer client closed")
		}
		var failed []string
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			c.log.Warn("Kafka fetch failed", "topic", topic, "partition", partition, "error", err)
			if errors.Is(err, kerr.UnknownTopicID) && !slices.Contains(failed, topic) {
				failed = append(failed, topic)
			}
		})
		for _, topic := range failed {
			// franz-go keeps consuming the first instance of a topic it met
			// and refuses a new one (deleted and created again, or the
			// cluster replaced) until the topic is purged and added back.
			if now := time.Now(); now.Sub(recreatedAt[topic]) >= c.cfg.RetryMax {
				recreatedAt[topic] = now
				c.log.Warn("Kafka topic was re-created; consuming the new one", "topic", topic)
				c.client.PurgeTopicsFromConsuming(topic)
				c.client.AddConsumeTopics(topic)
			}
		}
		// A poll with nothing but errors returns at once while the broker is
		// down or refusing: wait before the next, as for the store.
		if fetches.NumRecords() == 0 && len(fetches.Errors()) > 0 {
			wait = min(max(wait*2, c.cfg.RetryMin), c.cfg.RetryMax)
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		}
		wait = 0
		var stopped bool
		fetches.EachRecord(func(rec *kgo.Record) {
			if stopped {
				return
			}
			if !c.handle(ctx, rec) {
				stopped = true // ctx ended while retrying: leave it uncommitted
				return
			}
			c.client.MarkCommitRecords(rec)
		})
		if stopped {
			return ctx.Err()
		}
	}
}

// commit flushes the marked offsets on the way out, so a restart does not
// replay what was handled (replaying would be harmless, only wasteful).
func (c *CheckoutConsumer) commit() {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CommitTimeout)
	defer cancel()
	if err := c.client.CommitMarkedOffsets(ctx); err != nil {
		c.log.Warn("Committing checkout.completed offsets failed", "error", err)
	}
}

// handle completes the record's session, retrying while the store is
// unavailable. It returns false only when ctx ended first.
func (c *CheckoutConsumer) handle(ctx context.Context, rec *kgo.Record) bool {
	log := c.log.With("topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
	msg, err := DecodeCheckoutCompleted(rec)
	if err != nil {
		log.Warn("Skipping malformed checkout.completed record", "error", err)
		return true
	}
	if msg.GetSessionId() != "" {
		log = log.With("session_id", msg.GetSessionId())
	}
	if msg.GetEventId() != "" {
		log = log.With("event_id", msg.GetEventId())
	}
	if msg.GetId() != "" {
		log = log.With("message_id", msg.GetId())
	}

	wait := c.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := c.complete(ctx, msg)
		switch {
		case err == nil:
			log.Info("Checkout completed from Kafka")
			return true
		case ctx.Err() != nil:
			return false
		case harmless(err):
			// A duplicate or late completion, or one for a session that is
			// gone: nothing to free.
			log.Info("Ignoring checkout.completed", "reason", err.Error())
			return true
		case errors.Is(err, queue.ErrUnavailable), errors.Is(err, queue.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			// The store will be back: hold the record (and the partition)
			// until it is, never committing past it.
			if attempt == 1 || attempt%10 == 0 {
				log.Warn("Store unavailable; retrying checkout.completed", "attempt", attempt, "error", err)
			}
		case attempt >= maxOtherAttempts:
			// An error no retry fixed: holding the partition for it would
			// stall every later completion.
			log.Error("Skipping checkout.completed that keeps failing", "attempts", attempt, "error", err)
			return true
		default:
			log.Warn("Completing checkout from Kafka failed; retrying", "attempt", attempt, "error", err)
		}
		if !sleep(ctx, wait) {
			return false
		}
		wait = min(wait*2, c.cfg.RetryMax)
	}
}

// sleep waits for d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// maxOtherAttempts is how often an unexpected error is retried before the
// record is skipped.
const maxOtherAttempts = 5

func (c *CheckoutConsumer) complete(ctx context.Context, msg *waitroomv1.CheckoutCompleted) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HandleTimeout)
	defer cancel()
	if id := msg.GetSessionId(); id != "" {
		return c.completer.CompleteCheckout(ctx, id)
	}
	return c.completer.CompleteCheckoutToken(ctx, msg.GetCheckoutToken())
}

func harmless(err error) bool {
	var invalid *queue.InvalidArgumentError
	return errors.Is(err, queue.ErrNotAdmitted) || errors.Is(err, queue.ErrSessionNotFound) ||
		errors.Is(err, queue.ErrSessionExpired) || errors.As(err, &invalid)
}

// DecodeCheckoutCompleted reads a checkout.completed record: protojson by
// default (unknown fields ignored, a bare {"session_id":"…"} accepted), or
// binary protobuf when the content-type header says so. A message that names
// neither a session nor a token is an error.
func DecodeCheckoutCompleted(rec *kgo.Record) (*waitroomv1.CheckoutCompleted, error) {
	msg := new(waitroomv1.CheckoutCompleted)
	var err error
	switch ct := headerValue(rec, HeaderContentType); {
	case strings.Contains(ct, "protobuf"):
		err = proto.Unmarshal(rec.Value, msg)
	default:
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(rec.Value, msg)
	}
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	msg.SessionId = strings.TrimSpace(msg.GetSessionId())
	msg.CheckoutToken = strings.TrimSpace(msg.GetCheckoutToken())
	if msg.SessionId == "" && msg.CheckoutToken == "" {
		return nil, errors.New("neither session_id nor checkout_token is set")
	}
	return msg, nil
}

func headerValue(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if strings.EqualFold(h.Key, key) {
			return string(h.Value)
		}
	}
	return ""
}
