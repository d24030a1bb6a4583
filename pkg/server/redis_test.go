package server_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
	"github.com/waitroom/waitroom/pkg/token"
)

// signingKey is one PEM key shared by replicas, as production would.
func signingKey(t testing.TB) string {
	t.Helper()
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := token.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem)
}

// redisConfig is a server on the Redis at addrs with a signing key of its
// own, which replicas started from the same Config share.
func redisConfig(t testing.TB, addrs ...string) server.Config {
	return server.Config{RedisAddrs: addrs, SigningKeyPEM: []byte(signingKey(t))}
}

func TestFlowEveryProtocolRedis(t *testing.T) {
	r := redistest.Start(t)
	testFlow(t, startServer(t, redisConfig(t, r.Addr())))
}

func TestFlowEveryProtocolRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	testFlow(t, startServer(t, redisConfig(t, c.Addrs()...)))
}

// TestTwoReplicasShareOneQueue runs two servers on one Redis: a stream held on
// A follows joins, leaves and admissions made through B; then, with both
// processors running fast, many rounds of joins, leaves and completions
// through either replica never exceed capacity nor admit anyone twice.
func TestTwoReplicasShareOneQueue(t *testing.T) {
	r := redistest.Start(t)
	cfg := redisConfig(t, r.Addr())
	cfg.Queue.DefaultMaxConcurrent = 3
	a := startServer(t, cfg)
	b := startServer(t, cfg)
	ca, cb := protocols()[2].client(a), protocols()[0].client(b)

	// Part 1: cross-replica streaming, processors driven by hand.
	first := join(t, ca, "x1", "shared")
	sa := openStream(t, ca, first.SessionId)
	sa.next()
	second := join(t, cb, "x2", "shared")
	sa.until("join via B", queued(1, 2))
	third := join(t, cb, "x3", "shared")
	sa.until("second join via B", queued(1, 3))
	s3 := openStream(t, ca, third.SessionId)
	s3.until(describe(3, 3), queued(3, 3))
	if _, err := cb.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: second.SessionId})); err != nil {
		t.Fatal(err)
	}
	s3.until("leave via B", queued(2, 2))
	process(t, b)
	ready := sa.until("admission by B", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
	if ready.CheckoutToken == "" {
		t.Fatal("READY without token")
	}
	sa.ended()
	// A token issued through A's stream completes through B (shared key).
	if _, err := cb.CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: ready.CheckoutToken})); err != nil {
		t.Fatal(err)
	}

	// Part 2: both processors at once, watched through the change feed.
	const capacity = 3
	store, err := redisstore.Dial(context.Background(), []string{r.Addr()}, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	audit := &admissionAudit{t: t, capacity: capacity, admitted: map[string]bool{}, subscribed: make(chan struct{})}
	actx, stopAudit := context.WithCancel(context.Background())
	auditDone := make(chan struct{})
	go func() { defer close(auditDone); store.Subscribe(actx, "race", audit) }()
	<-audit.subscribed

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, ts := range []*servertest.Server{a, b} {
		wg.Go(func() {
			// Back to back, with a breath between ticks: a tight loop on
			// each of two servers would starve the joiners on a small machine.
			for ctx.Err() == nil {
				ts.Service().ProcessOnce(ctx)
				time.Sleep(time.Millisecond)
			}
		})
	}
	var ids sync.Map
	for w := range 4 {
		wg.Go(func() {
			c := []waitroomv1connect.WaitroomServiceClient{ca, cb}[w%2]
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 60 {
				s := join(t, c, fmt.Sprintf("w%d-%d", w, i), "race")
				ids.Store(s.SessionId, true)
				var victim string
				ids.Range(func(k, _ any) bool { victim = k.(string); return rng.IntN(4) != 0 })
				switch rng.IntN(3) {
				case 0:
					c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: victim}))
				case 1:
					c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: victim}))
				}
			}
		})
	}
	// Let the joiners finish, then drain: complete everyone admitted until
	// the queue is empty, so every session goes through admission. Each
	// admitted session is completed once (an error means the racers ended
	// it first).
	waitFor(t, "joiners done", func() bool {
		n := 0
		ids.Range(func(_, _ any) bool { n++; return true })
		return n == 240
	})
	completed := map[string]bool{}
	waitFor(t, "queue drained", func() bool {
		audit.mu.Lock()
		var todo []string
		for id := range audit.admitted {
			if !completed[id] {
				todo = append(todo, id)
			}
		}
		audit.mu.Unlock()
		for _, id := range todo {
			cb.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: id}))
			completed[id] = true
		}
		_, st, err := a.Service().Event(ctx, "race")
		return err == nil && st.QueueLength == 0 && st.Processing == 0
	})
	stop()
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // let the last changes reach the audit
	stopAudit()
	<-auditDone
	audit.mu.Lock()
	defer audit.mu.Unlock()
	if audit.maxProcessing > capacity {
		t.Fatalf("processing reached %d with capacity %d", audit.maxProcessing, capacity)
	}
	if len(audit.admitted) == 0 {
		t.Fatal("nobody was admitted")
	}
	t.Logf("%d admissions by two processors, peak processing %d of %d, %d changes audited",
		len(audit.admitted), audit.maxProcessing, capacity, audit.changes)
}

// admissionAudit follows an event's change feed and checks that nobody is
// admitted twice and that the processing count never exceeds capacity.
type admissionAudit struct {
	t          testing.TB
	capacity   int
	subscribed chan struct{}
	once       sync.Once

	mu            sync.Mutex
	admitted      map[string]bool
	processing    int
	maxProcessing int
	lastSeq       uint64
	changes       int
}

func (a *admissionAudit) Subscribed() { a.once.Do(func() { close(a.subscribed) }) }

func (a *admissionAudit) Change(c queue.Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastSeq != 0 && c.Seq != a.lastSeq+1 {
		a.t.Errorf("change feed jumped from %d to %d", a.lastSeq, c.Seq)
	}
	a.lastSeq = c.Seq
	a.changes++
	for _, s := range c.Sessions {
		switch {
		case s.Status == queue.StatusReady:
			if a.admitted[s.ID] {
				a.t.Errorf("%s admitted twice", s.ID)
			}
			a.admitted[s.ID] = true
			a.processing++
		case a.admitted[s.ID] && (s.Status == queue.StatusCompleted || s.Status == queue.StatusExpired):
			a.processing--
		}
	}
	a.maxProcessing = max(a.maxProcessing, a.processing)
}

// TestRedisOutage kills redis-server (AOF, fsync always) under open streams:
// requests fail fast with Unavailable and health says NOT_SERVING; after a
// restart every acknowledged join is there, the open streams show the right
// positions again, and the processor carries on. Then killing the replica's
// pub/sub connection makes streams converge again.
func TestRedisOutage(t *testing.T) {
	r := redistest.Start(t, redistest.WithAOF())
	cfg := redisConfig(t, r.Addr())
	cfg.Fanout.Resync = time.Second
	cfg.Queue.ProcessInterval = 200 * time.Millisecond
	cfg.Queue.DefaultMaxConcurrent = 1
	ts := startServer(t, cfg)
	c := protocols()[2].client(ts)
	ctx := context.Background()
	holder := join(t, c, "holder", "outage") // takes the one slot
	waitFor(t, "holder admitted", func() bool {
		return status(t, c, holder.SessionId).Status == waitroomv1.SessionStatus_SESSION_STATUS_READY
	})
	var ids []string
	var streams []*streamReader
	for i := range 5 {
		s := join(t, c, fmt.Sprint("before", i), "outage")
		ids = append(ids, s.SessionId)
		streams = append(streams, openStream(t, c, s.SessionId))
	}
	for i, st := range streams {
		st.until(describe(int32(i+1), 5), queued(int32(i+1), 5))
	}

	r.Kill()
	start := time.Now()
	_, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "during", EventId: "outage"}))
	elapsed := time.Since(start)
	wantCode(t, err, connect.CodeUnavailable, "unavailable")
	t.Logf("JoinQueue during the outage failed with Unavailable after %v", elapsed)
	if elapsed > 5*time.Second {
		t.Fatalf("JoinQueue hung %v while Redis was down", elapsed) // a hang, not a timing
	}
	hc := grpchealth.NewClient(servertest.H2CClient(), ts.URL, connect.WithGRPC())
	waitFor(t, "NOT_SERVING", func() bool {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{})
		return err == nil && res.Status == grpchealth.StatusNotServing
	})

	r.Restart()
	waitFor(t, "SERVING", func() bool {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{})
		return err == nil && res.Status == grpchealth.StatusServing
	})
	for i, id := range ids {
		if st := status(t, c, id); !queued(int32(i+1), 5)(st) {
			t.Fatalf("after restart %s is %v", id, st)
		}
	}
	// Changes after the restart reach the streams that stayed open.
	late := join(t, c, "after", "outage")
	for i, st := range streams {
		st.until("the join after the restart", queued(int32(i+1), 6))
	}
	// The processor carries on: free the slot, the head is admitted.
	if _, err := c.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: holder.SessionId})); err != nil {
		t.Fatal(err)
	}
	streams[0].until("READY after the outage", isStatus(waitroomv1.SessionStatus_SESSION_STATUS_READY))
	for i, st := range streams[1:] {
		st.until("moved up", queued(int32(i+1), 5))
	}

	// Kill the pub/sub connection; a change made meanwhile is still seen.
	if n := r.MustString("CLIENT", "KILL", "TYPE", "pubsub"); n == "0" {
		t.Fatal("no pub/sub connection to kill")
	}
	if err := ts.Service().Leave(ctx, late.SessionId); err != nil {
		t.Fatal(err)
	}
	for i, st := range streams[1:] {
		st.until("the leave after the pub/sub kill", queued(int32(i+1), 4))
	}
}

// TestReplicaRestartLosesNothing stops a replica and starts another on the
// same Redis: sessions, places and admissions are intact and reopened
// streams resume.
func TestReplicaRestartLosesNothing(t *testing.T) {
	r := redistest.Start(t)
	cfg := redisConfig(t, r.Addr())
	cfg.Queue.DefaultMaxConcurrent = 1
	a := startServer(t, cfg)
	c := protocols()[1].client(a)
	var ids []string
	for i := range 4 {
		ids = append(ids, join(t, c, fmt.Sprint("r", i), "restart").SessionId)
	}
	process(t, a)
	readyBefore := status(t, c, ids[0])
	a.Stop()

	b := startServer(t, cfg)
	c = protocols()[1].client(b)
	if st := status(t, c, ids[0]); st.Status != waitroomv1.SessionStatus_SESSION_STATUS_READY || st.CheckoutToken != readyBefore.CheckoutToken {
		t.Fatalf("admitted session after restart: %v", st)
	}
	for i, id := range ids[1:] {
		s := openStream(t, c, id)
		if m := s.next(); !queued(int32(i+1), 3)(m) {
			t.Fatalf("reopened stream of %s: %v", id, m)
		}
	}
	if again := join(t, c, "r2", "restart"); again.SessionId != ids[2] || again.Created {
		t.Fatalf("re-join after restart: %v", again)
	}
}

// TestRedisCommandsPerChangeConstant counts the Redis commands that queue
// changes cause with 10 and with 1,000 open streams: the same commands, as
// many of each, because every stream's position comes from the replica's
// memory.
func TestRedisCommandsPerChangeConstant(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 streams")
	}
	r := redistest.Start(t)
	cfg := redisConfig(t, r.Addr())
	cfg.Fanout.Resync = time.Hour
	cfg.JoinLimit.PerSecond = -1 // one address makes every join
	// The presence refresh runs on a clock, not per change (its cost is
	// TestPresenceRefreshCost's): off, so that it cannot fall in the count.
	cfg.Queue.PresenceGrace = -1
	ts := startServer(t, cfg)
	const changes = 50
	caused := map[int]map[string]int64{}
	for _, streams := range []int{10, 1000} {
		event := fmt.Sprint("cmds", streams)
		// Spread streams over connections, as real clients are spread.
		var clients []waitroomv1connect.WaitroomServiceClient
		for range 4 {
			clients = append(clients, protocols()[2].client(ts))
		}
		ctx, cancel := context.WithCancel(context.Background())
		lengths := make([]atomic.Int32, streams)
		var opened sync.WaitGroup
		for i := range streams {
			c := clients[i%len(clients)]
			id := join(t, c, fmt.Sprint("s", i), event).SessionId
			st, err := c.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: id}))
			if err != nil {
				t.Fatal(err)
			}
			opened.Add(1)
			go func() {
				defer st.Close()
				first := true
				for st.Receive() {
					lengths[i].Store(st.Msg().GetQueueLength())
					if first {
						opened.Done()
						first = false
					}
				}
			}()
		}
		opened.Wait()
		everyStreamSees := func(n int) {
			t.Helper()
			waitFor(t, fmt.Sprintf("every stream sees a queue of %d", n), func() bool {
				for i := range lengths {
					if lengths[i].Load() != int32(n) {
						return false
					}
				}
				return true
			})
		}
		// A change before counting: a stream's first state may come from its
		// own read before the event's view has read the queue, but no stream
		// sees a change before then, so once every stream has seen this one
		// the view's one-off reads are done and out of the count.
		join(t, clients[0], "warm-up", event)
		everyStreamSees(streams + 1)

		before := r.CommandStats()
		for i := range changes {
			join(t, clients[0], fmt.Sprint("late", i), event)
		}
		// A view does a change's reads, if any, before it shows the change:
		// once every stream shows the last one, all they caused is counted.
		everyStreamSees(streams + 1 + changes)
		caused[streams] = causedByChanges(before, r.CommandStats())
		cancel()
	}
	for _, streams := range []int{10, 1000} {
		t.Logf("%d changes with %d open streams: %s", changes, streams, redistest.FormatCommands(caused[streams]))
	}
	if !maps.Equal(caused[10], caused[1000]) {
		t.Fatalf("the changes cost different Redis commands with 1,000 open streams than with 10")
	}
	if n := caused[10]["evalsha"]; n != changes {
		t.Fatalf("counted %d EVALSHA for %d joins", n, changes)
	}
}

// causedByChanges is after-before per command (INFO commandstats), without
// the commands a running server sends on a clock rather than because of a
// change, so that how long the changes take cannot move the count: PING (the
// health check's every second, and the client's on idle connections), SADD
// (a join repairs its event's listing once a minute; no script calls it),
// HSET, PEXPIRE and HDEL (the replica's report of its open streams every
// second, two commands per event whatever the number of streams:
// redisstore's TestStreamReportCost; no join calls them,
// TestCommandsPerChange checks) and INFO (the counting itself).
func causedByChanges(before, after map[string]int64) map[string]int64 {
	return redistest.CommandDelta(before, after, "ping", "sadd", "hset", "pexpire", "hdel", "info")
}
