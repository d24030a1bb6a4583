package telemetry

import (
	"context"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// redisClient counts the commands a rueidis client sends and those that
// fail (a nil reply is an answer, not a failure). rueidis's own OpenTelemetry
// wrapper (rueidisotel) is a module of its own that is not available at the
// rueidis version used here, so this does the part of it that matters for
// operators. Dedicated connections (pub/sub) are not counted.
type redisClient struct {
	rueidis.Client
	commands, errors metric.Int64Counter
	attrs            []metric.AddOption
}

// WrapRedis returns c counting its commands on mp: waitroom.redis.commands
// and waitroom.redis.errors.
func WrapRedis(c rueidis.Client, mp metric.MeterProvider) (rueidis.Client, error) {
	m := mp.Meter(Scope)
	cmds, err := m.Int64Counter("waitroom.redis.commands", metric.WithUnit("{command}"),
		metric.WithDescription("Redis commands sent (a Lua script call is one)."))
	if err != nil {
		return nil, err
	}
	errs, err := m.Int64Counter("waitroom.redis.errors", metric.WithUnit("{command}"),
		metric.WithDescription("Redis commands that failed: a connection error, a timeout or an error reply."))
	if err != nil {
		return nil, err
	}
	return &redisClient{Client: c, commands: cmds, errors: errs,
		attrs: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("db.system.name", "redis")))}}, nil
}

func (c *redisClient) count(n int, failed int) {
	ctx := context.Background()
	c.commands.Add(ctx, int64(n), c.attrs...)
	if failed > 0 {
		c.errors.Add(ctx, int64(failed), c.attrs...)
	}
}

func failed(r rueidis.RedisResult) int {
	if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
		return 1
	}
	return 0
}

func (c *redisClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	r := c.Client.Do(ctx, cmd)
	c.count(1, failed(r))
	return r
}

func (c *redisClient) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	rs := c.Client.DoMulti(ctx, multi...)
	n := 0
	for _, r := range rs {
		n += failed(r)
	}
	c.count(len(rs), n)
	return rs
}

func (c *redisClient) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	r := c.Client.DoCache(ctx, cmd, ttl)
	if !r.IsCacheHit() {
		c.count(1, failed(r))
	}
	return r
}

func (c *redisClient) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	rs := c.Client.DoMultiCache(ctx, multi...)
	sent, n := 0, 0
	for _, r := range rs {
		if !r.IsCacheHit() {
			sent++
			n += failed(r)
		}
	}
	c.count(sent, n)
	return rs
}

func (c *redisClient) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(msg rueidis.PubSubMessage)) error {
	err := c.Client.Receive(ctx, subscribe, fn)
	f := 0
	if err != nil && ctx.Err() == nil {
		f = 1
	}
	c.count(1, f)
	return err
}
