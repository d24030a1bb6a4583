package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
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
//   - timeout (the store's Config.Timeout; DefaultTimeout when 0) as the dial
//     timeout and as ConnWriteTimeout, after which a connection that has not
//     answered (a write, or the client's keep-alive PING) is closed and
//     redialed: a stuck server is given up on no sooner than a call is, so a
//     busy one is waited for and a dead one noticed.
//   - a refused connection retried for about a second only (retryDelay): it
//     means Redis is down, not slow, and a caller waiting out the whole
//     timeout for it would be a slow answer to a plain question.
//
// addrs may hold one address, several, or comma-separated lists; given a
// cluster node, rueidis discovers the cluster.
func ClientOption(addrs []string, timeout time.Duration) rueidis.ClientOption {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
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
		Dialer:            net.Dialer{Timeout: timeout, KeepAlive: time.Second},
		ConnWriteTimeout:  timeout,
		RetryDelay:        retryDelay,
		ClientName:        "waitroom",
	}
}

// Dial connects to Redis with ClientOption(addrs, cfg.Timeout) and returns a Store that
// owns the client (Close closes it). It fails if Redis cannot be reached.
func Dial(ctx context.Context, addrs []string, cfg Config) (*Store, error) {
	c, err := rueidis.NewClient(ClientOption(addrs, cfg.Timeout))
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

// refusedRetries is how many times a command is retried on a refused
// connection: the backoff's first 18 steps wait about 0.8 s in all, riding
// out a restart as the client's default did with the one-second timeout.
const refusedRetries = 18

// retryDelay is rueidis's default backoff (exponential from 2 µs with equal
// jitter, at most 1 s), except that a refused connection stops being retried
// after refusedRetries attempts. rueidis only retries what is safe to.
func retryDelay(attempts int, _ rueidis.Completed, err error) time.Duration {
	if attempts > refusedRetries && errors.Is(err, syscall.ECONNREFUSED) {
		return -1
	}
	base := time.Duration(1<<min(attempts, 20)) * time.Microsecond
	return min(time.Second, base+rand.N(base))
}
