package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/waitroom/waitroom/pkg/kafka"
)

// kafkaConfig is cfg.Kafka with the server's logger.
func (s *Server) kafkaConfig() kafka.Config {
	k := s.cfg.Kafka
	if k.Logger == nil {
		k.Logger = s.log.With("component", "kafka")
	}
	return k
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
	producer, err := kafka.NewProducerClient(kcfg)
	if err != nil {
		return fmt.Errorf("KAFKA_BROKERS: %w", err)
	}
	s.closers = append(s.closers, producer.Close)
	relay := kafka.NewRelay(outbox, producer, kafka.RelayConfig{TopicPrefix: kcfg.TopicPrefix, Logger: s.log})
	s.relay = relay
	s.background = append(s.background, func(ctx context.Context) { _ = relay.Run(ctx) })
	return nil
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
	s.closers = append(s.closers, consumerClient.Close)
	consumer := kafka.NewCheckoutConsumer(consumerClient, s.svc, kafka.CheckoutConsumerConfig{Logger: s.log})
	s.background = append(s.background, func(ctx context.Context) { _ = consumer.Run(ctx) })
	return nil
}
