package kafka_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/waitroom/waitroom/pkg/kafka"
)

// lockedBuffer is a log destination the clients' goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A user the brokers authenticate but whose ACLs let it only describe the
// topics: the relay logs an error saying the brokers refuse it, which is not
// an outage that ends by itself, and the entry waits in the outbox.
func TestRelayRefusedByACLs(t *testing.T) {
	const password = "acl-pa55word-quux"
	c := newCluster(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.User(kafka.SASLScramSHA256, "waitroom", password, kfake.ACL{
			Resource: kmsg.ACLResourceTypeTopic, Name: testPrefix, Pattern: kmsg.ACLResourcePatternTypePrefixed,
			Operation: kmsg.ACLOperationDescribe, Allow: true,
		}))
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := testConfig(c.ListenAddrs())
	mech, err := kafka.NewSASL(kafka.SASLScramSHA256, "waitroom", password)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SASL, cfg.Logger = mech, log
	producer, err := kafka.NewProducerClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	w, store := newMemWorld(t)
	w.event("a", 5)
	rcfg := fastRelay("a")
	rcfg.Logger = log
	r, _ := startRelay(t, store, producer, rcfg)
	w.join("a", "u1")
	r.WakeEvent("a")
	waitUntil(t, "an error says the brokers refuse the client", func() bool {
		return strings.Contains(logs.String(), "level=ERROR") && strings.Contains(logs.String(), "refuse this client's credentials or permissions")
	})
	if n, _ := store.OutboxLen(context.Background(), "a"); n != 1 || r.Stats().Relayed != 0 {
		t.Fatalf("outbox %d, relayed %d; want the entry kept", n, r.Stats().Relayed)
	}
	if strings.Contains(logs.String(), password) {
		t.Fatalf("the password is in the logs:\n%s", logs.String())
	}
}
