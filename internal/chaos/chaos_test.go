package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/durationpb"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/token"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 0, "how long to inject faults; 0 is the short run CI makes (15s)")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "seed of the run's choices (faults, visitors); 0 picks one")
)

// The run's settings.
const (
	shortRun       = 15 * time.Second
	capacity       = 3
	checkoutWindow = 2 * time.Second
	adminToken     = "chaos-admin-token-0123456789"
)

var events = []string{"chaos-a", "chaos-b", "chaos-c"}

// world is everything a run drives: one Redis, one Kafka broker, two
// replicas, and the recorder every client writes to.
type world struct {
	t        *testing.T
	start    time.Time
	rec      *Recorder
	redis    *redistest.Server
	broker   *broker
	replicas []*replica
	producer *kgo.Client // the checkout service, sending checkout.completed
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, start: time.Now(), rec: &Recorder{}}
	w.redis = redistest.Start(t, redistest.WithAOF())
	w.broker = startBroker(t)
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pem, err := token.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"REDIS_ADDR=" + w.redis.Addr(),
		"KAFKA_BROKERS=" + w.broker.addr(),
		"WAITROOM_SIGNING_KEY=" + string(pem),
		"WAITROOM_ADMIN_TOKEN=" + adminToken,
		// One test process is every visitor's address.
		"WAITROOM_JOIN_RATE_PER_IP=off", "WAITROOM_STREAMS_PER_IP=off", "WAITROOM_CONNS_PER_IP=off",
		"QUEUE_PROCESS_INTERVAL=100ms",
		"QUEUE_CHECKOUT_WINDOW=" + checkoutWindow.String(),
		"QUEUE_SESSION_TTL=24h", // nobody expires while queued: such an expiry is an anomaly
		"QUEUE_POSITION_UPDATE_INTERVAL=1s",
		"SHUTDOWN_TIMEOUT=5s",
		"LOG_LEVEL=warn",
	}
	bin := buildReplica(t)
	for _, name := range []string{"a", "b"} {
		w.replicas = append(w.replicas, newReplica(t, name, bin, env, adminToken))
	}
	w.producer, err = kgo.NewClient(kgo.SeedBrokers(w.broker.addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.producer.Close)
	for _, ev := range events {
		_, err := w.replicas[0].admin.PutEvent(context.Background(), connect.NewRequest(&waitroomv1.PutEventRequest{Event: &waitroomv1.Event{
			EventId: ev, State: waitroomv1.EventState_EVENT_STATE_ACTIVE, MaxConcurrent: capacity,
			CheckoutWindow: durationpb.New(checkoutWindow),
		}}))
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestChaos runs visitors against two replicas while faults hit Redis, its
// pub/sub connections, the replicas and the Kafka broker; then, once
// everything settled, checks the history (Check). The short run is part of
// go test ./...; -chaos.duration makes a long one.
func TestChaos(t *testing.T) {
	faulting := *chaosDuration
	if faulting <= 0 {
		faulting = shortRun
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-chaos.seed=%d repeats the run's choices), faults for %v", seed, seed, faulting)
	w := newWorld(t)

	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	sampled := w.sampleCounts(runCtx)
	faultCtx, stopFaults := context.WithTimeout(runCtx, faulting)
	defer stopFaults()
	nemesisDone := make(chan struct{})
	go func() {
		defer close(nemesisDone)
		w.nemesis(faultCtx, rand.New(rand.NewPCG(seed, 1)), *chaosDuration <= 0)
	}()
	visitors, running := w.spawn(faultCtx, runCtx, rand.New(rand.NewPCG(seed, 2)), seed)
	<-nemesisDone
	t.Logf("faults over at %v; settling", time.Since(w.start).Round(time.Millisecond))

	// Settle: every visitor finishes, every event empties, and Kafka has
	// every change.
	if !waitGroup(visitors, 2*time.Minute) {
		t.Errorf("%d visitors still running 2m after the faults ended", running.Load())
		stopRun()
		visitors.Wait()
	}
	w.waitIdle()
	stopRun()
	<-sampled
	storeSeq := w.storeSeqs()
	records := w.readKafka(storeSeq, 3*time.Minute)
	w.finalReads(records)

	report := Check(Input{History: w.rec.History(), Records: records, StoreSeq: storeSeq,
		Capacity: map[string]int32{events[0]: capacity, events[1]: capacity, events[2]: capacity}})
	t.Logf("chaos report (seed %d, faults for %v, %v in all):\n%s", seed, faulting, time.Since(w.start).Round(time.Second), report)
	if path := os.Getenv("WAITROOM_CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(fmt.Sprintf("seed %d, faults for %v\n%s", seed, faulting, report)), 0o644); err != nil {
			t.Error(err)
		}
	}
	for _, r := range w.replicas {
		for _, p := range r.problems() {
			t.Error(p)
		}
	}
	if report.Failed() {
		t.Errorf("the checker found %d anomalies (seed %d)", report.Anomalies(), seed)
	}
	if report.Acknowledged == 0 || report.Final["completed"] == 0 || report.Final["expired"] == 0 || report.Final["left"] == 0 {
		t.Errorf("the run did too little to check anything")
	}
}

// spawn starts visitors, about one every 80 ms, until faulting ends; they
// run until they are done or run ends.
func (w *world) spawn(faulting, run context.Context, rng *rand.Rand, seed uint64) (*sync.WaitGroup, *atomic.Int64) {
	var wg sync.WaitGroup
	running := new(atomic.Int64)
	intents := []intent{leaveQueued, leaveQueued, leaveQueued, completeByID, completeByID, completeByID, completeByID,
		completeByID, completeByID, completeByToken, completeByToken, completeByToken, completeByKafka, completeByKafka,
		completeByKafka, neverComplete, neverComplete, neverComplete, neverComplete, neverComplete}
	for id := 1; sleep(faulting, time.Duration(40+rng.IntN(80))*time.Millisecond); id++ {
		v := &visitor{
			w: w, id: id, user: fmt.Sprintf("user-%d", id), event: events[rng.IntN(len(events))],
			rng:    rand.New(rand.NewPCG(seed, uint64(2*id+100))),
			frng:   rand.New(rand.NewPCG(seed, uint64(2*id+101))),
			intent: intents[rng.IntN(len(intents))], streamer: rng.IntN(5) < 3, crashy: rng.IntN(5) == 0,
		}
		running.Add(1)
		wg.Go(func() {
			defer running.Add(-1)
			v.run(run)
		})
	}
	return &wg, running
}

// sampleCounts reads every event's counts (GetEvent) every 100 ms, through
// either replica, until ctx ends: each is a moment at which capacity is
// checked.
func (w *world) sampleCounts(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	rng := rand.New(rand.NewPCG(1, 1))
	go func() {
		defer close(done)
		for sleep(ctx, 100*time.Millisecond) {
			for _, ev := range events {
				r := w.replicas[rng.IntN(len(w.replicas))]
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				op := Op{Kind: Sample, Process: -2, Event: ev, Invoke: w.rec.Time()}
				res, err := r.admin.GetEvent(cctx, connect.NewRequest(&waitroomv1.GetEventRequest{EventId: ev}))
				cancel()
				if err != nil {
					continue
				}
				e := res.Msg.GetEvent()
				op.Outcome, op.Processing, op.QueueLength, op.Capacity = OK, e.GetProcessing(), e.GetQueueLength(), e.GetMaxConcurrent()
				w.rec.Add(op)
			}
		}
	}()
	return done
}

func waitGroup(wg *sync.WaitGroup, within time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(within):
		return false
	}
}
