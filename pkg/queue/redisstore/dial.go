package redisstore

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

// ClientOption is the rueidis configuration Dial uses, tuned for a small
// machine shared with the service itself:
//   - a 1 MiB client-side cache per connection (the default is 128 MiB):
//     only event settings are cached, and they are tiny;
//   - MaxFlushDelay 20µs: under load the writer waits a moment to batch more
//     commands per write, for much less CPU at a small latency cost
//     (see BenchmarkJoinFlushDelay);
//   - 1s dial timeout and 5s ConnWriteTimeout so a dead or stuck server is
//     noticed; each call also has the store's own, shorter deadline.
//
// addrs may hold one address, several, or comma-separated lists; given a
// cluster node, rueidis discovers the cluster.
func ClientOption(addrs []string) rueidis.ClientOption {
	var init []string
	for _, a := range addrs {
		for p := range strings.SplitSeq(a, ",") {
			if p = strings.TrimSpace(p); p != "" {
				init = append(init, p)
			}
		}
	}
	return rueidis.ClientOption{
		InitAddress:       init,
		CacheSizeEachConn: 1 << 20,
		MaxFlushDelay:     20 * time.Microsecond,
		Dialer:            net.Dialer{Timeout: time.Second, KeepAlive: time.Second},
		ConnWriteTimeout:  5 * time.Second,
		ClientName:        "waitroom",
	}
}

// Dial connects to Redis with ClientOption(addrs) and returns a Store that
// owns the client (Close closes it). It fails if Redis cannot be reached.
func Dial(ctx context.Context, addrs []string, cfg Config) (*Store, error) {
	c, err := rueidis.NewClient(ClientOption(addrs))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", queue.ErrUnavailable, err)
	}
	s := New(c, cfg)
	s.owned = true
	if err := s.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}
