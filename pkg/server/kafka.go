package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/waitroom/waitroom/pkg/kafka"
)

// kafkaLog is the logger of everything Kafka: cfg.Kafka.Logger, or the
// server's, with warnings rate-limited. It is made once and kept in cfg, so
// the relay, the consumer and their clients share one limit.
func (s *Server) kafkaLog() *slog.Logger {
	if s.cfg.Kafka.Logger == nil {
		s.cfg.Kafka.Logger = s.log
	}
	s.cfg.Kafka.Logger = kafka.LimitWarnings(s.cfg.Kafka.Logger)
	return s.cfg.Kafka.Logger
}

// kafkaConfig is cfg.Kafka with the clients' logger.
func (s *Server) kafkaConfig() kafka.Config {
	k := s.cfg.Kafka
	k.Logger = s.kafkaLog().With("component", "kafka")
	if hooks := s.kafkaHooks(); hooks != nil {
		k.Opts = append(hooks, k.Opts...)
	}
	return k
}

// kafkaStopStep bounds each of the two steps that stop the relay and the
// consumer once the HTTP server has stopped: giving records in flight a
// moment (or committing offsets), then closing the client. The relay and the
// consumer stop side by side, so Kafka takes at most half of ShutdownTimeout
// whatever the brokers do; what was not acknowledged stays in the outbox.
func (s *Server) kafkaStopStep() time.Duration { return s.cfg.ShutdownTimeout / 4 }

// closeOnce closes cl within the stop step, once: after Run when the server
// stops, or when New fails.
func (s *Server) closeOnce(cl *kgo.Client) func() {
	var once sync.Once
	return func() { once.Do(func() { kafka.CloseClient(cl, s.kafkaStopStep()) }) }
}

// startRelay relays queue events to Kafka when Kafka is on. It never sits on
// a request's path: the store records each change in its outbox atomically
// with the change, and the relay drains the outbox in the background.
func (s *Server) startRelay() error {
	if !s.cfg.KafkaEnabled() {
		return nil
	}
	kcfg := s.kafkaConfig()
	outbox, ok := s.store.(kafka.RelayStore)
	if !ok {
		return errors.New("KAFKA_BROKERS is set but the store keeps no outbox")
	}
	s.warnCleartextPassword(kcfg)
	if kcfg.CreateTopics {
		s.background = append(s.background, func(ctx context.Context) { s.createTopics(ctx, kcfg) })
	}
	producer, err := kafka.NewProducerClient(kcfg)
	if err != nil {
		return fmt.Errorf("KAFKA_BROKERS: %w", err)
	}
	closeProducer := s.closeOnce(producer)
	s.closers = append(s.closers, closeProducer)
	relay := kafka.NewRelay(outbox, producer, kafka.RelayConfig{
		TopicPrefix:   kcfg.TopicPrefix,
		ShutdownGrace: s.kafkaStopStep(),
		Relayed:       s.relayed(),
		Logger:        s.kafkaLog(),
	})
	s.relay = relay
	s.background = append(s.background, func(ctx context.Context) {
		_ = relay.Run(ctx)
		closeProducer()
	})
	return nil
}

// warnCleartextPassword says at start when SASL PLAIN sends the password
// without TLS. It is allowed, for a broker on a private network; SCRAM never
// sends the password itself, so it gets no warning.
func (s *Server) warnCleartextPassword(kcfg kafka.Config) {
	if kcfg.SASL != nil && kcfg.TLS == nil && kcfg.SASL.Name() == kafka.SASLPlain {
		s.kafkaLog().Warn("KAFKA_SASL_MECHANISM=PLAIN without KAFKA_TLS=true: " +
			"the Kafka password crosses the network in clear on every connection")
	}
}

// createTopics creates the missing topics, retrying until the brokers
// answer (or the server stops), so a replica that starts before its broker
// still creates them. Records produced before then wait in the outbox.
func (s *Server) createTopics(ctx context.Context, kcfg kafka.Config) {
	log := s.kafkaLog().With("component", "kafka")
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		created, err := kafka.CreateTopics(actx, kcfg)
		cancel()
		if len(created) > 0 {
			log.Info("Created Kafka topics", "topics", created)
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("Creating Kafka topics failed; retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// startConsumer frees checkout slots on checkout.completed records, exactly
// as CompleteCheckout does.
func (s *Server) startConsumer() error {
	if !s.cfg.KafkaEnabled() {
		return nil
	}
	consumerClient, err := kafka.NewConsumerClient(s.kafkaConfig())
	if err != nil {
		return fmt.Errorf("KAFKA_BROKERS: %w", err)
	}
	closeConsumer := s.closeOnce(consumerClient)
	s.closers = append(s.closers, closeConsumer)
	consumer := kafka.NewCheckoutConsumer(consumerClient, s.svc, kafka.CheckoutConsumerConfig{
		CommitTimeout: s.kafkaStopStep(),
		Logger:        s.kafkaLog(),
	})
	s.background = append(s.background, func(ctx context.Context) {
		_ = consumer.Run(ctx)
		closeConsumer()
	})
	return nil
}
