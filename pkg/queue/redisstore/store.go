// Package redisstore is the Redis queue.Store, over github.com/redis/rueidis.
// It works with one Redis server or a Redis Cluster.
//
// Key layout, one hash tag per event so that all of an event's keys share a
// cluster slot and every state change is one atomic script:
//
//	waitroom:{<event>}:queue              sorted set: waiting session id, score = ticket
//	waitroom:{<event>}:processing         set: admitted (ready) session ids
//	waitroom:{<event>}:deadlines          sorted set: admitted session id, score = checkout deadline (Unix ms)
//	waitroom:{<event>}:expiry             sorted set: waiting session id, score = ExpiresAt (Unix ms)
//	waitroom:{<event>}:session:<id>       string: the session as JSON; ended sessions expire after their TTL
//	waitroom:{<event>}:user:<user id>     string: the user's live session id
//	waitroom:{<event>}:event              hash: the event's settings
//	waitroom:{<event>}:tickets            counter: the last ticket handed out
//	waitroom:{<event>}:seq                counter: the last change's sequence number
//	waitroom:{<event>}:outbox             stream: unrelayed changes (only WithOutbox)
//	waitroom:{<event>}:stats              hash: the event's totals and admissions per second (stats.go)
//	waitroom:{<event>}:waits              list: the recent admissions' waits (ms), newest first
//	waitroom:{<event>}:streams            hash: replica id → its open streams and when it reported
//	waitroom:events                       set: every event id (its own slot)
//	waitroom:live                         set: the live events (live.go)
//	waitroom:idle                         sorted set: idle events a join registered, score = idle since (Unix ms)
//
// An event a join registered is forgotten once idle (ForgetIdle): all its
// keys are deleted but seq, a counter of a few dozen bytes, so that if it is
// joined again its changes number on from the last, and no seq (nor Kafka
// record id) repeats. Ended sessions keep their own expiry.
//
// Live sessions have no expiry of their own (Expire ends them, so nothing
// is ever left dangling in the queue or the processing set); an ended session
// stays readable for its TTL after it ends.
//
// Changes are published as JSON to the channel queue:updates:<event> from
// inside the script that makes them (see message). Times are kept to the
// millisecond.
//
// Costs: every state change is one EVALSHA round trip running a fixed number
// of commands inside Redis, whatever the queue's length and however many
// replicas listen (TestCommandsPerChange). Admit and Expire hold Redis in
// proportion to how many sessions they admit or end, at most their limit.
// Snapshot is O(N), and Redis serves nothing else while it runs, so replicas
// call it only to resynchronise. The benchmarks measure each (BenchmarkJoin,
// BenchmarkAdmit1000, BenchmarkSnapshot).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/pkg/queue"
)

var (
	_ queue.Store  = (*Store)(nil)
	_ queue.Outbox = (*Store)(nil)
)

// EventsKey is the set of every event id.
const EventsKey = "waitroom:events"

// channelPrefix starts every event's pub/sub channel.
const channelPrefix = "queue:updates:"

// Channel is the pub/sub channel an event's changes are published on.
func Channel(eventID string) string { return channelPrefix + eventID }

// An event's keys are its prefix followed by one of these (the layout above).
const (
	eventKey      = "event"
	queueKey      = "queue"
	processingKey = "processing"
	deadlinesKey  = "deadlines"
	expiryKey     = "expiry"
	ticketsKey    = "tickets"
	seqKey        = "seq"
	outboxKey     = "outbox"
	// followed by the session or user id
	sessionKeyPrefix = "session:"
	userKeyPrefix    = "user:"
)

// Defaults for the per-call deadlines.
const (
	// DefaultTimeout bounds every call but Snapshot, so a request ends with
	// queue.ErrTimeout when Redis is stuck instead of hanging. It is generous
	// because a busy Redis is slow, not down: on a loaded machine a burst of
	// stream opens can queue reads for well over a second behind each other.
	// A Redis that is down (refusing connections) fails calls within about a
	// second (queue.ErrUnavailable), whatever the timeout.
	DefaultTimeout = 5 * time.Second
	// DefaultSnapshotTimeout bounds Snapshot, which reads a whole queue.
	DefaultSnapshotTimeout = 15 * time.Second
	// DefaultEventCacheTTL is how long event settings may be served from the
	// client-side cache; the server invalidates them on every change anyway.
	DefaultEventCacheTTL = time.Minute
)

// Config configures a Store. The zero value is the defaults.
type Config struct {
	// Outbox records every change in the event's outbox stream, in the same
	// script as the change (queue.Outbox).
	Outbox bool
	// Logger receives dropped pub/sub messages and resubscribes; nil discards them.
	Logger *slog.Logger
	// Timeout is the deadline of each call but Snapshot (DefaultTimeout).
	// Give the client the same with ClientOption, so a connection is given
	// up on only after a call would have been.
	Timeout time.Duration
	// SnapshotTimeout is Snapshot's deadline (DefaultSnapshotTimeout).
	SnapshotTimeout time.Duration
	// EventCacheTTL is how long event settings may be served from the
	// client-side cache (DefaultEventCacheTTL); negative reads them from Redis
	// every time.
	EventCacheTTL time.Duration
}

// Store is the Redis queue.Store. It is safe for concurrent use; many Stores
// (processes) may share one Redis.
type Store struct {
	client          rueidis.Client
	owned           bool
	log             *slog.Logger
	outbox          bool
	timeout         time.Duration
	snapshotTimeout time.Duration
	cacheTTL        time.Duration

	// listed remembers the events this process has added to EventsKey, so
	// only an event's first join here pays for the SADD.
	listed sync.Map
	// written holds, per event, until when its settings are read past the
	// cache because this store has just changed them (see cacheable).
	written sync.Map

	// The sweep's place in EventsKey and when its next page is due (live.go).
	sweepMu     sync.Mutex
	sweepCursor uint64
	sweepAt     time.Time
}

// New returns a Store over client. The caller keeps ownership of client.
func New(client rueidis.Client, cfg Config) *Store {
	s := &Store{
		client:          client,
		log:             cfg.Logger,
		outbox:          cfg.Outbox,
		timeout:         cfg.Timeout,
		snapshotTimeout: cfg.SnapshotTimeout,
		cacheTTL:        cfg.EventCacheTTL,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.snapshotTimeout <= 0 {
		s.snapshotTimeout = DefaultSnapshotTimeout
	}
	if s.cacheTTL == 0 {
		s.cacheTTL = DefaultEventCacheTTL
	}
	return s
}

// Close closes the client if Dial made it.
func (s *Store) Close() {
	if s.owned {
		s.client.Close()
	}
}

// Client is the store's rueidis client.
func (s *Store) Client() rueidis.Client { return s.client }

// call derives a call's context: the store's deadline, unless the caller's
// is sooner.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// keys are the keys every script gets, in the order lua/prelude.lua names
// them, followed by extra.
type keys struct {
	prefix string
	list   []string
}

func eventKeys(eventID string, extra ...string) keys {
	p := prefix(eventID)
	l := make([]string, 0, 8+len(extra))
	l = append(l, p+eventKey, p+queueKey, p+processingKey, p+deadlinesKey, p+expiryKey, p+ticketsKey, p+seqKey, p+outboxKey)
	for _, e := range extra {
		l = append(l, p+e)
	}
	return keys{prefix: p, list: l}
}

func prefix(eventID string) string { return "waitroom:{" + eventID + "}:" }

// The flags every script gets in ARGV[4].
const (
	flagOutbox  = "o" // record changes in the outbox
	flagCluster = "c" // the store is a Redis Cluster
)

// args are the arguments every script gets (prefix, event, now, flags),
// followed by extra.
func (s *Store) args(k keys, eventID string, now time.Time, extra ...string) []string {
	flags := ""
	if s.outbox {
		flags += flagOutbox
	}
	if s.client.Mode() == rueidis.ClientModeCluster {
		flags += flagCluster
	}
	a := make([]string, 0, 4+len(extra))
	a = append(a, k.prefix, eventID, ms(now), flags)
	return append(a, extra...)
}

func ms(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// failed turns a client error into the store's: the caller's own cancellation
// as is, the store's own deadline passing as queue.ErrTimeout (Redis is slow,
// and the command may yet run), and anything else that says Redis cannot
// serve now (refused, reset, closed, loading) as queue.ErrUnavailable.
func failed(parent context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", queue.ErrTimeout, err)
	}
	if re, ok := errors.AsType[*rueidis.RedisError](err); ok && !transient(re) {
		return fmt.Errorf("redisstore: %w", err)
	}
	return fmt.Errorf("%w: %v", queue.ErrUnavailable, err)
}

// transient reports whether a Redis error reply means "not now" rather than
// "never": loading, failing over, out of memory, busy with a script.
func transient(re *rueidis.RedisError) bool {
	if re.IsLoading() || re.IsClusterDown() || re.IsTryAgain() {
		return true
	}
	msg := re.Error()
	for _, p := range []string{"MASTERDOWN", "READONLY", "BUSY ", "OOM", "NOREPLICAS", "MISCONF", "LOADING", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	// A script read a key of its slot that a reshard has already moved; it
	// stopped before writing (lua/prelude.lua), and will run once the move
	// is done.
	return strings.Contains(msg, "non local key")
}

// Ping implements queue.Store.
func (s *Store) Ping(ctx context.Context) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.client.Do(cctx, s.client.B().Ping().Build()).Error(); err != nil {
		return failed(ctx, err)
	}
	return nil
}
