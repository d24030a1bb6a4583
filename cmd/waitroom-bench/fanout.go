package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// The kinds of change the fanout scenario makes.
const (
	kindJoin = iota
	kindLeave
	kindAdmit
	numKinds
)

var kindNames = [numKinds]string{"join", "leave", "admit"}

// mix is the weight of each kind of change.
type mix [numKinds]int

func parseMix(s string) (mix, error) {
	var m mix
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		idx := -1
		for i, name := range kindNames {
			if name == k {
				idx = i
			}
		}
		if !ok || err != nil || n < 0 || idx < 0 {
			return m, fmt.Errorf("-mix %q: want join=N,leave=N,admit=N", s)
		}
		m[idx] = n
	}
	if m[0]+m[1]+m[2] == 0 {
		return m, fmt.Errorf("-mix %q: every weight is 0", s)
	}
	return m, nil
}

// draw picks a kind of change by weight.
func (m mix) draw(rng *rand.Rand) int {
	x := rng.IntN(m[0] + m[1] + m[2])
	switch {
	case x < m[0]:
		return kindJoin
	case x < m[0]+m[1]:
		return kindLeave
	}
	return kindAdmit
}

// FanoutResult is the fanout scenario's outcome.
type FanoutResult struct {
	Streams          int         `json:"streams"`
	Conns            int         `json:"conns"`
	OpenSeconds      float64     `json:"open_seconds"`
	Cost             *StreamCost `json:"server_memory,omitempty"`
	Changes          int         `json:"changes"`
	Kinds            string      `json:"kinds"`
	ChangesPerSecond float64     `json:"changes_per_second"`
	// Latency is, for every (stream, change) pair where the change altered
	// what the stream shows, the time from the change being acknowledged to
	// the stream receiving a message that reflects it.
	Latency       Latency            `json:"latency"`
	ByKind        map[string]Latency `json:"latency_by_kind"`
	Messages      int64              `json:"messages"`
	Coalesced     int64              `json:"coalesced_pairs"`
	Final         int                `json:"streams_at_final_state"`
	SettleSeconds float64            `json:"settle_seconds"`
	Unexpected    int64              `json:"unexpected_messages"`
	Duplicates    int64              `json:"duplicate_messages"`
	// WaitOnly counts messages that showed the same place with a new
	// estimated wait.
	WaitOnly int64 `json:"wait_only_messages"`
	// ServerCPUSeconds is the server's CPU from the first change until every
	// stream settled.
	ServerCPUSeconds float64    `json:"server_cpu_seconds,omitempty"`
	Redis            *RedisCost `json:"redis,omitempty"`
	// Idle is the server's cost while the streams stood idle (-idle).
	Idle *IdleCost `json:"idle,omitempty"`
	// Heartbeats counts the heartbeats the streams received.
	Heartbeats int64 `json:"heartbeats"`
	// Cadence holds the streams to the server's streaming cadence.
	Cadence *CadenceResult `json:"cadence,omitempty"`
}

// IdleCost is what open streams cost the server while nothing changes:
// with heartbeats on, mostly the heartbeats.
type IdleCost struct {
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"server_cpu_seconds"`
	// Heartbeats is what the server counted as sent (heartbeats_sent);
	// Rounds is that per open stream.
	Heartbeats int64   `json:"heartbeats"`
	Rounds     float64 `json:"rounds"`
	// WrittenBytes is what the server wrote meanwhile (sockets, logs).
	WrittenBytes uint64 `json:"written_bytes"`
	// HeartbeatPayload is one heartbeat's protobuf size, as received.
	HeartbeatPayload int `json:"heartbeat_payload_bytes"`
}

// fanoutRun is one run of the fanout scenario; its phases share it.
type fanoutRun struct {
	r     *runner
	cfg   *Config
	res   *FanoutResult
	queue *queueModel
	check *streamCheck
	ss    *streamSet // nil until every stream is open
}

// fanout opens -streams streams on queued sessions, makes -changes changes at
// -change-rate, and checks that every stream follows every change.
func (r *runner) fanout(ctx context.Context) error {
	f := &fanoutRun{r: r, cfg: r.cfg, res: &FanoutResult{Streams: r.cfg.Streams, ByKind: map[string]Latency{}}}
	r.rep.Fanout = f.res
	defer f.close()
	if err := f.open(ctx); err != nil {
		return err
	}
	if err := f.idle(ctx); err != nil {
		return err
	}
	var idle *redisIdle
	if r.redis != nil {
		var err error
		if idle, err = f.measureRedisIdle(ctx); err != nil {
			return err
		}
	}
	cpu0, cpuErr := fetchStats(ctx, f.cfg.DebugAddr)
	if cc := f.check.cad; cc != nil && cpuErr == nil {
		cc.waits = startCPUWaits(ctx, f.cfg.DebugAddr)
	}
	start, done, err := f.makeChanges(ctx)
	if err != nil {
		f.check.cad.waits.stop()
		return err
	}
	fin := f.queue.final()
	final := f.settle(ctx, &fin, done)
	r.checkStreams(ctx, f.ss, f.check.ended(), time.Now().Add(f.cfg.Settle))
	settled := time.Now()
	f.check.cad.waits.stop()
	cpu1, cpu1Err := fetchStats(ctx, f.cfg.DebugAddr)
	if cpu1Err == nil && cpuErr == nil {
		f.res.ServerCPUSeconds = cpu1.CPUSeconds - cpu0.CPUSeconds
	}
	if idle != nil {
		if err := f.measureRedisCost(ctx, idle, start); err != nil {
			return err
		}
	}
	f.tally(&fin, final)
	if cpu1Err != nil {
		f.tallyCadence(nil, start, settled.Sub(start))
	} else {
		f.tallyCadence(&cpu1, start, settled.Sub(start))
	}
	if !f.cfg.Verify {
		return nil
	}
	return r.verify(ctx, f.queue.expected(fin), false)
}

// open pauses the event, queues the streamed sessions, opens a stream on
// each, and measures the server's memory for them once idle. Every stream's
// first message must show the state it opened on.
func (f *fanoutRun) open(ctx context.Context) error {
	r, cfg := f.r, f.cfg
	if err := r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_PAUSED, 0); err != nil {
		return fmt.Errorf("pause the event: %w", err)
	}
	sessions, err := r.fill(ctx, "join streamed sessions", "s-", cfg.Streams)
	if err != nil {
		return err
	}
	f.queue = newQueueModel(sessions, cfg.Changes)
	f.check = newStreamCheck(f.queue, len(sessions))
	ids := make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.id
	}

	before, statsErr := fetchStats(ctx, cfg.DebugAddr)
	f.check.cad = newCadenceCheck(before, statsErr, cfg.CadenceSlack)
	ss, err := r.openStreams(ctx, ids, func(i int, msg *waitroomv1.PositionUpdate, at time.Time) {
		f.check.onMsg(f.check.streams[i], msg, at)
	})
	if err != nil {
		return err
	}
	f.ss = ss
	f.res.Conns = len(ss.pool.clients)
	f.res.OpenSeconds = ss.openSecs
	// Let the server settle before reading its memory.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	if statsErr == nil {
		if after, err := fetchStats(ctx, cfg.DebugAddr); err == nil {
			c := streamCost(before, after)
			f.res.Cost = &c
		}
	}
	if n := f.check.unexp.Load(); n > 0 {
		r.fail("%d streams opened on a wrong state: %v", n, f.check.badSamples())
	}
	return nil
}

// idle holds the open streams idle for -idle and measures what the server
// spends meanwhile.
func (f *fanoutRun) idle(ctx context.Context) error {
	if f.cfg.Idle <= 0 {
		return nil
	}
	before, err := fetchStats(ctx, f.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("-idle needs the server's /debug/stats: %w", err)
	}
	t0 := time.Now()
	f.r.prog.begin("idle", int64(f.cfg.Idle/time.Second), nil)
	for time.Since(t0) < f.cfg.Idle {
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		f.r.prog.done.Store(int64(time.Since(t0) / time.Second))
	}
	after, err := fetchStats(ctx, f.cfg.DebugAddr)
	if err != nil {
		return err
	}
	c := &IdleCost{
		Seconds:          time.Since(t0).Seconds(),
		CPUSeconds:       after.CPUSeconds - before.CPUSeconds,
		Heartbeats:       after.HeartbeatsSent - before.HeartbeatsSent,
		WrittenBytes:     after.WrittenBytes - before.WrittenBytes,
		HeartbeatPayload: int(f.check.beatSize.Load()),
	}
	c.Rounds = float64(c.Heartbeats) / float64(max(f.cfg.Streams, 1))
	f.res.Idle = c
	return nil
}

// settle waits up to -settle for every stream to show its final state, and
// returns how many do.
func (f *fanoutRun) settle(ctx context.Context, fin *finalState, changesDone time.Time) int {
	f.r.prog.begin("settle", int64(f.cfg.Streams), nil)
	deadline := time.Now().Add(f.cfg.Settle)
	final := 0
	for {
		final = f.check.atFinal(fin)
		f.r.prog.done.Store(int64(final))
		if final == len(f.check.streams) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.res.Final = final
	f.res.SettleSeconds = time.Since(changesDone).Seconds()
	return final
}

// tally writes what the streams received to the result, and fails the run
// for streams short of their final state and for wrong or repeated messages.
func (f *fanoutRun) tally(fin *finalState, final int) {
	res, sc := f.res, f.check
	res.Latency = sc.all.summary()
	for k := range numKinds {
		res.ByKind[kindNames[k]] = sc.byKind[k].summary()
	}
	res.Messages = sc.msgs.Load()
	res.Unexpected = sc.unexp.Load()
	res.Duplicates = sc.dups.Load()
	res.WaitOnly = sc.waits.Load()
	res.Heartbeats = sc.beats.Load()
	res.Coalesced = sc.coalesced(fin)
	if n := len(sc.streams); final < n {
		f.r.fail("%d of %d streams never reached the final state within %s; e.g. %v", n-final, n, f.cfg.Settle, sc.notAtFinal(fin))
	}
	if res.Unexpected > 0 {
		f.r.fail("%d unexpected messages: %v", res.Unexpected, sc.badSamples())
	}
	if res.Duplicates > 0 {
		f.r.fail("%d duplicate messages (a state the stream already showed)", res.Duplicates)
	}
}

// close ends the streams, if they were opened.
func (f *fanoutRun) close() {
	if f.ss != nil {
		f.ss.close()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
