package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/kafka"
)

var crashKills = flag.Int("crash.kills", 20, "how many times TestKillNineLosesNothing kills the server")

const (
	crashEvent    = "crash"
	crashCapacity = 3
)

// TestKillNineLosesNothing runs a real waitroom process on the disk store
// under concurrent joins, leaves, completions and the processor's
// admissions, kills it with SIGKILL at a random moment, starts it again on
// the same directory, and checks that every acknowledged change is there:
// every acknowledged session exists, every acknowledged leave and
// completion holds, no session's status ever goes back, positions are
// exactly 1..n, capacity holds. Kafka (an in-process broker) receives every
// change, and no record id ever names two different changes: seq never
// repeats. -crash.kills=N kills it N times (20 by default).
func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real server")
	}
	bin := buildWaitroom(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, crashTopics()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	w := &crashWorld{t: t, bin: bin, dir: t.TempDir(), brokers: strings.Join(cluster.ListenAddrs(), ","),
		sessions: map[string]*tracked{}, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	for i := range *crashKills {
		w.start()
		w.check(fmt.Sprintf("start %d", i))
		w.load(time.Duration(30+w.rng.IntN(250)) * time.Millisecond)
		w.kill()
	}
	w.start()
	w.check("last start")
	w.checkKafka()
	w.stop()
	t.Logf("%d kills, %d sessions, %d joins, %d leaves and %d completions acknowledged", *crashKills, len(w.sessions), w.joins, w.leaves, w.completes)
}

func crashTopics() []string {
	cfg := kafka.Config{}
	return append(cfg.ProducedTopics(), cfg.Topic(kafka.TopicCheckoutCompleted))
}

func buildWaitroom(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "waitroom")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tracked is what the test knows of one session.
type tracked struct {
	id, user string
	stage    int // the furthest status seen (queue.Status.Stage)
	status   waitroomv1.SessionStatus
	left     bool // a LeaveQueue was acknowledged
	done     bool // a CompleteCheckout was acknowledged
}

type crashWorld struct {
	t       *testing.T
	bin     string
	dir     string
	brokers string
	cmd     *exec.Cmd
	exited  chan struct{}
	client  waitroomv1connect.WaitroomServiceClient
	rng     *rand.Rand

	mu                       sync.Mutex
	sessions                 map[string]*tracked
	order                    []*tracked
	uncertain                []string   // users whose join was not answered
	ready                    []*tracked // sessions seen READY
	users                    int
	joins, leaves, completes int
}

func (w *crashWorld) start() {
	t := w.t
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w.cmd = exec.Command(w.bin)
	w.cmd.Env = append(os.Environ(),
		"LISTEN_ADDR="+addr, "METRICS_ADDR=127.0.0.1:0", "WAITROOM_DATA_DIR="+w.dir, "KAFKA_BROKERS="+w.brokers,
		"QUEUE_PROCESS_INTERVAL=10ms", fmt.Sprintf("QUEUE_DEFAULT_MAX_CONCURRENT=%d", crashCapacity),
		"WAITROOM_JOIN_RATE_PER_IP=off", "LOG_LEVEL=error", "WAITROOM_STORE=", "REDIS_ADDR=")
	w.cmd.Stderr = testLog{t}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.exited = make(chan struct{})
	go func() { w.cmd.Wait(); close(w.exited) }()
	cmd, exited := w.cmd, w.exited
	t.Cleanup(func() { // a failed check leaves it running
		cmd.Process.Kill()
		<-exited
	})
	w.client = waitroomv1connect.NewWaitroomServiceClient(&http.Client{Timeout: 5 * time.Second}, "http://"+addr)
	for i := 0; ; i++ {
		_, err := w.client.GetQueueStatus(context.Background(), connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: crashEvent + "~00000000000000000000000000"}))
		if connect.CodeOf(err) == connect.CodeNotFound {
			return
		}
		select {
		case <-w.exited:
			t.Fatalf("the server exited at start: %v", w.cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *crashWorld) kill() {
	w.cmd.Process.Kill() // SIGKILL
	<-w.exited
}

func (w *crashWorld) stop() {
	w.cmd.Process.Signal(os.Interrupt)
	<-w.exited
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Logf("server: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// load runs four workers for d, then kills the server while they run.
func (w *crashWorld) load(d time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 4 {
		rng := rand.New(rand.NewPCG(w.rng.Uint64(), uint64(i)))
		wg.Go(func() {
			for ctx.Err() == nil {
				w.op(ctx, rng)
			}
		})
	}
	time.Sleep(d)
	w.kill() // mid-flight: calls in progress get no answer
	cancel()
	wg.Wait()
}

func (w *crashWorld) op(ctx context.Context, rng *rand.Rand) {
	k := rng.IntN(10)
	w.mu.Lock()
	var s *tracked
	if len(w.order) > 0 {
		s = w.order[rng.IntN(len(w.order))]
	}
	if k >= 6 && k < 8 && len(w.ready) > 0 {
		s = w.ready[rng.IntN(len(w.ready))]
	}
	w.mu.Unlock()
	switch {
	case k < 5 || s == nil:
		w.mu.Lock()
		w.users++
		user := fmt.Sprintf("u%d", w.users)
		w.uncertain = append(w.uncertain, user)
		w.mu.Unlock()
		res, err := w.client.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: crashEvent}))
		if err == nil {
			w.mu.Lock()
			w.joins++
			w.track(res.Msg.GetSessionId(), user, res.Msg.GetStatus())
			w.mu.Unlock()
		}
	case k < 6:
		_, err := w.client.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: s.id}))
		if err == nil {
			w.mu.Lock()
			s.left = true
			w.leaves++
			w.mu.Unlock()
		}
	case k < 8:
		_, err := w.client.CompleteCheckout(ctx, connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{SessionId: s.id}))
		if err == nil {
			w.mu.Lock()
			s.done = true
			w.completes++
			w.mu.Unlock()
		}
	default:
		res, err := w.client.GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: s.id}))
		if err == nil {
			w.mu.Lock()
			w.saw(s, res.Msg.GetStatus())
			w.mu.Unlock()
		}
	}
}

// track records an acknowledged session; w.mu held.
func (w *crashWorld) track(id, user string, st waitroomv1.SessionStatus) {
	s := w.sessions[id]
	if s == nil {
		s = &tracked{id: id, user: user}
		w.sessions[id] = s
		w.order = append(w.order, s)
	}
	w.uncertain = slicesDelete(w.uncertain, user)
	w.saw(s, st)
}

func slicesDelete(xs []string, x string) []string {
	for i, v := range xs {
		if v == x {
			return append(xs[:i], xs[i+1:]...)
		}
	}
	return xs
}

func stage(st waitroomv1.SessionStatus) int {
	switch st {
	case waitroomv1.SessionStatus_SESSION_STATUS_QUEUED:
		return 1
	case waitroomv1.SessionStatus_SESSION_STATUS_READY:
		return 2
	}
	return 3
}

// saw records a status read back; w.mu held. A status that goes back
// (READY after COMPLETED, QUEUED after READY) is an admission twice or a
// lost change.
func (w *crashWorld) saw(s *tracked, st waitroomv1.SessionStatus) {
	if stage(st) < s.stage || s.stage == 3 && st != s.status {
		w.t.Fatalf("session %s went from %v back to %v", s.id, s.status, st)
	}
	if st == waitroomv1.SessionStatus_SESSION_STATUS_READY && s.status != st {
		w.ready = append(w.ready, s)
	}
	s.stage, s.status = stage(st), st
}

// check reads every session back once the server has settled.
func (w *crashWorld) check(when string) {
	t := w.t
	ctx := context.Background()
	w.mu.Lock()
	defer w.mu.Unlock()
	// A join that got no answer either happened or did not: joining again
	// returns the session it made, or makes one now.
	for _, user := range slicesClone(w.uncertain) {
		res, err := w.client.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: user, EventId: crashEvent}))
		if err != nil {
			t.Fatalf("%s: rejoin of %s: %v", when, user, err)
		}
		w.track(res.Msg.GetSessionId(), user, res.Msg.GetStatus())
	}
	var last map[string]*waitroomv1.PositionUpdate
	for attempt := 0; ; attempt++ {
		now := map[string]*waitroomv1.PositionUpdate{}
		for _, s := range w.order {
			res, err := w.client.GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: s.id}))
			if err != nil {
				t.Fatalf("%s: acknowledged session %s of %s: %v", when, s.id, s.user, err)
			}
			now[s.id] = res.Msg
		}
		if samePlaces(last, now) {
			break
		}
		if attempt == 100 {
			t.Fatalf("%s: the queue never settled", when)
		}
		last = now
	}
	ready, positions, length := 0, map[int32]string{}, int32(-1)
	for _, s := range w.order {
		m := last[s.id]
		w.saw(s, m.GetStatus())
		switch {
		case s.left && m.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_LEFT:
			t.Fatalf("%s: session %s left (acknowledged) but reads %v", when, s.id, m.GetStatus())
		case s.done && m.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_COMPLETED:
			t.Fatalf("%s: session %s completed (acknowledged) but reads %v", when, s.id, m.GetStatus())
		}
		switch m.GetStatus() {
		case waitroomv1.SessionStatus_SESSION_STATUS_READY:
			ready++
		case waitroomv1.SessionStatus_SESSION_STATUS_QUEUED:
			if other, dup := positions[m.GetPosition()]; dup {
				t.Fatalf("%s: sessions %s and %s both at position %d", when, other, s.id, m.GetPosition())
			}
			positions[m.GetPosition()] = s.id
			length = m.GetQueueLength()
		}
	}
	if ready > crashCapacity {
		t.Fatalf("%s: %d sessions hold a checkout slot, capacity %d", when, ready, crashCapacity)
	}
	for p := int32(1); p <= int32(len(positions)); p++ {
		if _, ok := positions[p]; !ok {
			t.Fatalf("%s: positions of %d queued sessions are not 1..%d (no %d)", when, len(positions), len(positions), p)
		}
	}
	if len(positions) > 0 && length != int32(len(positions)) {
		t.Fatalf("%s: queue length %d with %d queued sessions", when, length, len(positions))
	}
}

func slicesClone(xs []string) []string { return append([]string(nil), xs...) }

func samePlaces(a, b map[string]*waitroomv1.PositionUpdate) bool {
	if a == nil || len(a) != len(b) {
		return false
	}
	for id, m := range a {
		n := b[id]
		if n == nil || m.GetStatus() != n.GetStatus() || m.GetPosition() != n.GetPosition() || m.GetQueueLength() != n.GetQueueLength() {
			return false
		}
	}
	return true
}

// checkKafka makes one last change, waits for every change up to it to
// reach Kafka, and checks that record ids number the event's changes
// 1..n, each id naming one change only (a relay may send a change twice
// after a crash, always identical), and that no session was admitted twice.
func (w *crashWorld) checkKafka() {
	t := w.t
	res, err := w.client.JoinQueue(context.Background(), connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "last", EventId: crashEvent}))
	if err != nil {
		t.Fatal(err)
	}
	lastID := res.Msg.GetSessionId()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers), kgo.ConsumeTopics(kafka.Config{}.ProducedTopics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	byID := map[string]string{}
	admitted := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for seen := false; !seen; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("the last join never reached Kafka (%d record ids seen)", len(byID))
		}
		fs.EachRecord(func(r *kgo.Record) {
			id := header(r, kafka.HeaderID)
			if prev, ok := byID[id]; ok && prev != string(r.Value) {
				t.Fatalf("record id %s names two different changes:\n%s\n%s", id, prev, r.Value)
			}
			byID[id] = string(r.Value)
			if strings.HasSuffix(r.Topic, "admitted") {
				for s := range w.sessions {
					if strings.Contains(string(r.Value), s) {
						if other, twice := admitted[s]; twice && other != id {
							t.Fatalf("session %s admitted twice: records %s and %s", s, other, id)
						}
						admitted[s] = id
					}
				}
			}
			if strings.Contains(string(r.Value), lastID) {
				seen = true
			}
		})
	}
	for seq := 1; seq <= len(byID); seq++ {
		if _, ok := byID[fmt.Sprintf("%s:%d", crashEvent, seq)]; !ok {
			t.Fatalf("no record for change %d of %d: a change was lost or a seq skipped", seq, len(byID))
		}
	}
	if len(admitted) == 0 {
		t.Fatalf("no admissions reached Kafka")
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
