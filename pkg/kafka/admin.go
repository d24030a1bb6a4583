package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopics creates the topics the relay produces and the consumer reads
// that do not exist yet, with cfg.TopicPartitions partitions and
// cfg.TopicReplication replicas; topics that exist are left as they are. It
// returns the topics it created.
func CreateTopics(ctx context.Context, cfg Config) ([]string, error) {
	cfg = cfg.withDefaults()
	cl, err := kgo.NewClient(append(cfg.clientOpts(), cfg.Opts...)...)
	if err != nil {
		return nil, err
	}
	defer CloseClient(cl, time.Second)

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	for _, name := range append(cfg.ProducedTopics(), cfg.Topic(TopicCheckoutCompleted)) {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic = name
		t.NumPartitions = cfg.TopicPartitions
		t.ReplicationFactor = cfg.TopicReplication
		req.Topics = append(req.Topics, t)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("create topics: %w", err)
	}
	var created []string
	var errs []error
	for _, t := range resp.Topics {
		switch err := kerr.ErrorForCode(t.ErrorCode); {
		case err == nil:
			created = append(created, t.Topic)
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			msg := ""
			if t.ErrorMessage != nil {
				msg = ": " + *t.ErrorMessage
			}
			errs = append(errs, fmt.Errorf("create topic %s: %w%s", t.Topic, err, msg))
		}
	}
	return created, errors.Join(errs...)
}

// CloseClient closes cl within timeout whatever the brokers do. A group
// member first leaves its group, which needs the coordinator's answer and so
// waits on a broker that stopped answering; past timeout the leave is given
// up (the group notices the member gone after its session timeout) and the
// client is closed in the background, its goroutines ending as their
// connections fail.
func CloseClient(cl *kgo.Client, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = cl.LeaveGroupContext(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Close()
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
