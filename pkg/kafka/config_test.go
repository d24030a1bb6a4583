package kafka_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/waitroom/waitroom/pkg/kafka"
	"github.com/waitroom/waitroom/pkg/queue"
)

// A zero Config builds both clients with the defaults.
func TestClientsFromZeroConfig(t *testing.T) {
	for name, newClient := range map[string]func(kafka.Config) (*kgo.Client, error){
		"producer": kafka.NewProducerClient,
		"consumer": kafka.NewConsumerClient,
	} {
		t.Run(name, func(t *testing.T) {
			cl, err := newClient(kafka.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if got, _ := cl.OptValue(kgo.SeedBrokers).([]string); !slices.Equal(got, []string{kafka.DefaultBroker}) {
				t.Errorf("seed brokers %v, want %s", got, kafka.DefaultBroker)
			}
			if got := cl.OptValue(kgo.ClientID); got != kafka.DefaultClientID {
				t.Errorf("client id %v, want %s", got, kafka.DefaultClientID)
			}
		})
	}
}

// A relay built from a zero RelayConfig relays with its own defaults, under
// a claimant name of its own, to the unprefixed topics.
func TestRelayZeroConfig(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, kafka.Config{}.ProducedTopics()...))
	cl, err := kafka.NewProducerClient(kafka.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	w, store := newMemWorld(t)
	r := kafka.NewRelay(store, cl, kafka.RelayConfig{})
	if r.Claimant() == "" {
		t.Error("a relay without a claimant name")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})

	w.event("zero", 1)
	w.join("zero", "u1")
	r.WakeEvent("zero")
	waitUntil(t, "the join is relayed", func() bool { return r.Stats().Relayed == 1 })
	if n, _ := store.OutboxLen(context.Background(), "zero"); n != 0 {
		t.Errorf("outbox holds %d entries after relaying", n)
	}
}

// A consumer built from a zero CheckoutConsumerConfig completes checkouts.
func TestCheckoutConsumerZeroConfig(t *testing.T) {
	cw := newCheckoutWorld(t)
	id := cw.join(t, "u1")
	cw.process(t)
	cw.startConsumerWith(t, cw.service, kafka.CheckoutConsumerConfig{})
	cw.send(t, `{"session_id":"`+id+`"}`)
	waitUntil(t, "the checkout completes", func() bool { return cw.status(t, id) == queue.StatusCompleted })
}
