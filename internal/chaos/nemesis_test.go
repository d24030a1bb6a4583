package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// fault is one kind of fault: inject breaks something and heals it again
// before it returns.
type fault struct {
	name   string
	inject func(ctx context.Context, rng *rand.Rand) string
}

func (w *world) faults(short bool) map[string]fault {
	down := func(rng *rand.Rand, min, max time.Duration) time.Duration {
		return min + time.Duration(rng.Int64N(int64(max-min)))
	}
	return map[string]fault{
		"redis": {"kill redis", func(ctx context.Context, rng *rand.Rand) string {
			w.redis.Kill()
			d := down(rng, 500*time.Millisecond, 3*time.Second)
			sleep(ctx, d)
			w.redis.Restart()
			return fmt.Sprintf("redis-server killed (SIGKILL), restarted after %v", d.Round(time.Millisecond))
		}},
		"pubsub": {"kill pub/sub connections", func(ctx context.Context, _ *rand.Rand) string {
			n, err := w.redis.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").AsInt64()
			return fmt.Sprintf("CLIENT KILL TYPE pubsub: %d killed (%v)", n, err)
		}},
		"replica": {"kill a replica", func(ctx context.Context, rng *rand.Rand) string {
			r := w.replicas[rng.IntN(len(w.replicas))]
			when := "at any moment"
			if short && w.betweenBatches(5*time.Second) {
				when = "between relay batches"
			}
			r.kill()
			d := down(rng, 300*time.Millisecond, 3*time.Second)
			sleep(ctx, d)
			if err := r.start(); err != nil {
				w.t.Error(err)
			}
			return fmt.Sprintf("replica %s killed (SIGKILL) %s, restarted after %v", r.name, when, d.Round(time.Millisecond))
		}},
		"broker": {"stop the broker", func(ctx context.Context, rng *rand.Rand) string {
			w.broker.stop()
			d := down(rng, time.Second, 5*time.Second)
			sleep(ctx, d)
			if err := w.broker.start(); err != nil {
				w.t.Error(err)
			}
			return fmt.Sprintf("Kafka broker stopped, restarted with its data after %v", d.Round(time.Millisecond))
		}},
	}
}

// betweenBatches waits, up to within, for a moment when no relay holds an
// outbox entry it has not acknowledged, and reports whether it found one.
//
// A relay killed in the middle of a batch keeps its claim on that event's
// outbox until the claim has been idle for 90 s (the relay's MinIdle), and
// only then does another relay carry on with the event's records. The long
// run kills replicas at any moment and waits that out; the short run, which
// CI makes, kills its replica between batches, so that it takes 30 s and
// not two minutes. The kill is still a SIGKILL of a process holding streams,
// requests in flight and a consumer-group membership.
func (w *world) betweenBatches(within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		pending := int64(0)
		for _, ev := range events {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			res, err := w.redis.Do(ctx, "XPENDING", "waitroom:{"+ev+"}:outbox", redisstore.OutboxGroup).ToArray()
			cancel()
			if err != nil || len(res) == 0 {
				continue // no outbox or no relay group yet: nothing pending
			}
			n, _ := res[0].AsInt64()
			pending += n
		}
		if pending == 0 {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// nemesis injects faults one after another until ctx ends: first one of
// each kind, however short the run, starting with the replica kill, then at
// random; the short run kills no replica after the first.
func (w *world) nemesis(ctx context.Context, rng *rand.Rand, short bool) {
	faults := w.faults(short)
	first := []string{"replica", "redis", "pubsub", "broker"}
	kinds := []string{"redis", "pubsub", "pubsub", "replica", "broker"}
	if short {
		kinds = []string{"redis", "pubsub", "broker"}
	}
	for i := 0; ; i++ {
		gap := time.Duration(500+rng.IntN(1500)) * time.Millisecond
		if i < len(first) {
			time.Sleep(gap)
		} else if !sleep(ctx, gap) {
			return
		}
		kind, fctx := kinds[rng.IntN(len(kinds))], ctx
		if i < len(first) {
			kind, fctx = first[i], context.Background()
		}
		f := faults[kind]
		start := w.rec.Time()
		desc := f.inject(fctx, rng)
		w.rec.Add(Op{Kind: Fault, Process: -1, Invoke: start, Outcome: OK, Value: f.name})
		w.t.Logf("fault at %v: %s", start.Sub(w.start).Round(time.Millisecond), desc)
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
