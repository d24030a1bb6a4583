package api

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Defaults for JoinLimitConfig. An honest crowd behind one address (a
// carrier-grade NAT puts thousands of phones behind one) stays under them: a
// thousand people arriving in the first ten seconds of a sale is a burst of
// 500 and then 50 a second.
const (
	DefaultJoinRatePerIP  = 50
	DefaultJoinBurstPerIP = 500
	// joinLimitLogEvery bounds the refusal log to one line per interval.
	joinLimitLogEvery = 10 * time.Second
	// joinLimitIdle is how long an address's bucket is kept after its last
	// join; a full bucket would be made again anyway.
	joinLimitIdle = 10 * time.Minute
)

// JoinLimitConfig limits JoinQueue per client address with a token bucket.
// The zero value is the defaults. The limit is per replica: behind a load
// balancer that spreads one address over N replicas, an address gets up to N
// times the rate.
type JoinLimitConfig struct {
	// PerSecond is the joins per second an address may keep up
	// (DefaultJoinRatePerIP); negative turns the limit off.
	PerSecond float64
	// Burst is how many joins an address may make at once (DefaultJoinBurstPerIP).
	Burst int
	// TrustedProxies are the networks of proxies whose X-Forwarded-For or
	// Forwarded header names the client; from any other peer the headers are
	// ignored and the peer is the client.
	TrustedProxies []netip.Prefix
	// Logger receives a line with the refusals at most every 10 s; nil
	// discards it.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// JoinLimiter is the per-address JoinQueue limit. It is safe for concurrent use.
type JoinLimiter struct {
	cfg JoinLimitConfig
	off bool

	refused atomic.Int64

	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
	lastLog   time.Time
	unlogged  int64
}

type bucket struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// NewJoinLimiter returns a limiter as cfg says.
func NewJoinLimiter(cfg JoinLimitConfig) *JoinLimiter {
	if cfg.PerSecond == 0 {
		cfg.PerSecond = DefaultJoinRatePerIP
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultJoinBurstPerIP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &JoinLimiter{cfg: cfg, off: cfg.PerSecond < 0, buckets: map[netip.Addr]*bucket{}}
}

// Refused is how many joins the limit has refused.
func (l *JoinLimiter) Refused() int64 { return l.refused.Load() }

// errJoinRate is the message of a refused join; the retry hint is a detail.
var errJoinRate = errors.New("too many joins from this address; retry later")

// allow takes one join from the client's bucket, or returns the
// ResourceExhausted error to answer with.
func (l *JoinLimiter) allow(peer string, h http.Header) error {
	if l.off {
		return nil
	}
	client, ok := Proxies(l.cfg.TrustedProxies).Client(peer, h)
	if !ok {
		return nil // no address to count against (not a TCP peer)
	}
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[client]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.PerSecond), l.cfg.Burst)}
		l.buckets[client] = b
	}
	b.lastSeen = now
	r := b.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	r.CancelAt(now)
	l.refusedOne(now)
	return retryLater(errJoinRate, delay)
}

// refusedOne counts a refusal and logs the count at most once per interval.
// Called with l.mu held.
func (l *JoinLimiter) refusedOne(now time.Time) {
	l.refused.Add(1)
	l.unlogged++
	if now.Sub(l.lastLog) >= joinLimitLogEvery {
		l.cfg.Logger.Warn("Refused joins over the per-address limit", "count", l.unlogged,
			"total", l.refused.Load(), "addresses", len(l.buckets))
		l.lastLog, l.unlogged = now, 0
	}
}

// sweep forgets the buckets of addresses idle for joinLimitIdle, once a
// minute. Called with l.mu held.
func (l *JoinLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for a, b := range l.buckets {
		if now.Sub(b.lastSeen) >= joinLimitIdle {
			delete(l.buckets, a)
		}
	}
}

// retryLater is a ResourceExhausted error carrying a google.rpc.RetryInfo
// detail, rounded up to whole seconds in the message.
func retryLater(err error, delay time.Duration) error {
	secs := int64(math.Ceil(delay.Seconds()))
	ce := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%w (in %ds)", err, secs))
	if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); derr == nil {
		ce.AddDetail(d)
	}
	return ce
}
