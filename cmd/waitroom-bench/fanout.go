package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

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
}

// change is one queue change the tool made, in the order the server applied
// it (the tool makes them one at a time).
type change struct {
	kind   int
	ticket int   // the ticket that joined or left the queue
	length int32 // queue length after the change
	ack    atomic.Int64
}

// fanModel is the tool's own account of the queue, which every stream's
// messages are checked against.
type fanModel struct {
	changes []change // [0] is the state the streams opened on
	issued  atomic.Int64
	all     hist
	byKind  [numKinds]hist
	credits atomic.Int64
	unexp   atomic.Int64
	dups    atomic.Int64
	waits   atomic.Int64 // messages that only moved the estimated wait
	msgs    atomic.Int64
	samples sync.Mutex
	bad     []string
}

// fstream is one stream's progress through the changes.
type fstream struct {
	ticket int // the session's ticket; position = live tickets below it + 1
	mu     sync.Mutex
	// reached is the last change the stream has shown; pos and ended the
	// state it implies.
	reached int
	pos     int32
	ended   waitroomv1.SessionStatus // 0 while queued
	msgs    int
	// The last message received.
	lastPos, lastLen int32
	lastStatus       waitroomv1.SessionStatus
	lastWait         time.Duration
}

func isFinal(s waitroomv1.SessionStatus) bool {
	return s != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED && s != waitroomv1.SessionStatus_SESSION_STATUS_UNSPECIFIED
}

func endStatus(kind int) waitroomv1.SessionStatus {
	if kind == kindAdmit {
		return waitroomv1.SessionStatus_SESSION_STATUS_READY
	}
	return waitroomv1.SessionStatus_SESSION_STATUS_LEFT
}

func (m *fanModel) note(format string, args ...any) {
	m.samples.Lock()
	if len(m.bad) < 10 {
		m.bad = append(m.bad, fmt.Sprintf(format, args...))
	}
	m.samples.Unlock()
}

// onMsg matches a message to the first change since the stream's last match
// whose expected state it equals, and credits every change up to it with the
// time from its acknowledgement to now. Taking the first match never runs
// ahead of the server (a state can recur: a join and then a leave behind
// restore a queue length), so a later message can always be placed; changes
// a message skipped over are credited by the next one. A message matching no
// state the stream could be in is unexpected (a wrong position, or an older
// state after a newer one); one equal to the message before it is a duplicate.
func (m *fanModel) onMsg(f *fstream, msg *waitroomv1.PositionUpdate, at time.Time) {
	m.msgs.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	st, mpos, mlen := msg.GetStatus(), msg.GetPosition(), msg.GetQueueLength()
	if isFinal(st) && (mpos != 0 || st == waitroomv1.SessionStatus_SESSION_STATUS_READY &&
		(msg.GetCheckoutToken() == "" || msg.GetCheckoutUrl() == "")) {
		m.unexp.Add(1)
		m.note("ticket %d: %s with position %d, checkout token %t, URL %q", f.ticket, st, mpos,
			msg.GetCheckoutToken() != "", msg.GetCheckoutUrl())
	}
	wait := msg.GetEstimatedWait().AsDuration()
	same := f.msgs > 0 && st == f.lastStatus && (isFinal(st) || mpos == f.lastPos && mlen == f.lastLen)
	dup := same && wait == f.lastWait
	f.msgs++
	f.lastPos, f.lastLen, f.lastStatus, f.lastWait = mpos, mlen, st, wait
	switch {
	case dup:
		m.dups.Add(1)
		return
	case same && !isFinal(st):
		// The same place with a new estimate: the admission rate moved
		// (the server re-sends it when it changes by about a tenth).
		m.waits.Add(1)
		return
	case f.ended != 0:
		m.unexp.Add(1)
		m.note("ticket %d: %s after its final %s", f.ticket, st, f.ended)
		return
	}
	issued := int(m.issued.Load())
	best, bestEnd := -1, waitroomv1.SessionStatus(0)
	pos := f.pos
	start := f.reached + 1
	if f.msgs == 1 {
		start = f.reached // the first message shows the state the stream opened on
	}
	for k := f.reached; k <= issued && best < 0; k++ {
		c := &m.changes[k]
		if k > f.reached && c.kind != kindJoin {
			if c.ticket == f.ticket {
				if st == endStatus(c.kind) {
					best, bestEnd = k, st
				}
				break
			}
			if c.ticket < f.ticket {
				pos--
			}
		}
		if k >= start && st == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED && mpos == pos && mlen == c.length {
			best = k
		}
	}
	if best < 0 {
		m.unexp.Add(1)
		m.note("ticket %d: got %s position %d length %d, matching no state since change %d (issued %d)",
			f.ticket, st, mpos, mlen, f.reached, issued)
		return
	}
	for i := f.reached + 1; i <= best; i++ {
		c := &m.changes[i]
		var d time.Duration
		if ack := c.ack.Load(); ack != 0 {
			d = at.Sub(time.Unix(0, ack))
		}
		m.all.add(d)
		m.byKind[c.kind].add(d)
		m.credits.Add(1)
		if c.kind != kindJoin && c.ticket < f.ticket {
			f.pos--
		}
	}
	f.reached = best
	f.ended = bestEnd
}

// fanout opens -streams streams on queued sessions, makes -changes changes at
// -change-rate, and checks that every stream follows every change.
func (r *runner) fanout(ctx context.Context) error {
	cfg := r.cfg
	res := &FanoutResult{Streams: cfg.Streams, ByKind: map[string]Latency{}}
	r.rep.Fanout = res
	if err := r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_PAUSED, 0); err != nil {
		return fmt.Errorf("pause the event: %w", err)
	}
	sessions, err := r.fill(ctx, "join streamed sessions", "s-", cfg.Streams)
	if err != nil {
		return err
	}
	// Tickets are the tool's own numbering in queue order: 1..S for the
	// streamed sessions, then one per join it makes.
	ids := make([]string, 1, cfg.Streams+cfg.Changes+1)
	streamIDs := make([]string, cfg.Streams)
	fs := make([]*fstream, cfg.Streams)
	for i, s := range sessions {
		ids = append(ids, s.id)
		streamIDs[i] = s.id
		fs[i] = &fstream{ticket: i + 1, pos: int32(i + 1)}
	}
	m := &fanModel{changes: make([]change, cfg.Changes+1)}
	m.changes[0].length = int32(cfg.Streams)
	m.changes[0].ack.Store(time.Now().UnixNano())

	before, statsErr := fetchStats(ctx, cfg.DebugAddr)
	ss, err := r.openStreams(ctx, streamIDs, func(i int, msg *waitroomv1.PositionUpdate, at time.Time) {
		m.onMsg(fs[i], msg, at)
	})
	if err != nil {
		return err
	}
	defer ss.close()
	res.Conns = len(ss.pool.clients)
	res.OpenSeconds = ss.openSecs
	// Let the server settle before reading its memory.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	if statsErr == nil {
		if after, err := fetchStats(ctx, cfg.DebugAddr); err == nil {
			c := streamCost(before, after)
			res.Cost = &c
		}
	}
	if n := m.unexp.Load(); n > 0 {
		r.fail("%d streams opened on a wrong state: %v", n, m.bad)
	}

	var idleRate, pollCost float64
	var rb map[string]int64
	if r.redis != nil {
		c0, err := r.redis.commandCounts(ctx)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		if rb, err = r.redis.commandCounts(ctx); err != nil {
			return err
		}
		_, idle := diffCounts(c0, rb)
		idleRate = float64(idle) / time.Since(t0).Seconds()
		// What one of the tool's own GetEvent polls costs, so that polling
		// for admissions is not counted as the server's work per change.
		t1 := time.Now()
		const probes = 20
		for range probes {
			if _, err := r.processing(ctx); err != nil {
				return err
			}
		}
		c1, err := r.redis.commandCounts(ctx)
		if err != nil {
			return err
		}
		_, n := diffCounts(rb, c1)
		pollCost = max(float64(n)-idleRate*time.Since(t1).Seconds(), 0) / probes
		rb = c1
	}
	cpu0, cpuErr := fetchStats(ctx, cfg.DebugAddr)

	// The changes, one at a time so the server applies them in the order the
	// model does.
	alive := make([]bool, cfg.Streams+cfg.Changes+2)
	pickable := make([]int, 0, cfg.Streams+cfg.Changes)
	where := make([]int, len(alive))
	for t := 1; t <= cfg.Streams; t++ {
		alive[t] = true
		where[t] = len(pickable)
		pickable = append(pickable, t)
	}
	drop := func(t int) {
		alive[t] = false
		i := where[t]
		last := pickable[len(pickable)-1]
		pickable[i], where[last] = last, i
		pickable = pickable[:len(pickable)-1]
	}
	head := 1
	length := int32(cfg.Streams)
	admitted := int32(0)
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	total := cfg.mix[0] + cfg.mix[1] + cfg.mix[2]
	var kinds [numKinds]int
	p, err := r.unaryPool(ctx)
	if err != nil {
		return err
	}
	c := p.client(0)
	interval := time.Duration(float64(time.Second) / cfg.ChangeRate)
	r.prog.begin("changes", int64(cfg.Changes), func() string {
		return fmt.Sprintf("p99 %s, messages %d", fms(ms(m.all.quantile(0.99))), m.msgs.Load())
	})
	start := time.Now()
	for k := 1; k <= cfg.Changes; k++ {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(k-1)*interval))); err != nil {
			return err
		}
		kind := kindJoin
		if length > 0 {
			x := rng.IntN(total)
			switch {
			case x < cfg.mix[0]:
			case x < cfg.mix[0]+cfg.mix[1]:
				kind = kindLeave
			default:
				kind = kindAdmit
			}
		}
		ch := &m.changes[k]
		ch.kind = kind
		switch kind {
		case kindJoin:
			ch.ticket = len(ids)
			length++
		case kindLeave:
			ch.ticket = pickable[rng.IntN(len(pickable))]
			length--
		case kindAdmit:
			for !alive[head] {
				head++
			}
			ch.ticket = head
			length--
		}
		ch.length = length
		// Published before the call: a stream may see the change before the
		// call returns.
		m.issued.Store(int64(k))
		var ack time.Time
		switch kind {
		case kindJoin:
			res, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "j-" + strconv.Itoa(k), EventId: cfg.Event}))
			if err != nil {
				return fmt.Errorf("change %d: JoinQueue: %w", k, err)
			}
			ack = time.Now()
			if got := res.Msg; got.GetPosition() != length || got.GetQueueLength() != length ||
				got.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED {
				r.fail("change %d: JoinQueue gave %s at %d of %d, want QUEUED at %d of %d",
					k, got.GetStatus(), got.GetPosition(), got.GetQueueLength(), length, length)
			}
			ids = append(ids, res.Msg.GetSessionId())
			alive[ch.ticket] = true
			where[ch.ticket] = len(pickable)
			pickable = append(pickable, ch.ticket)
		case kindLeave:
			if _, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ids[ch.ticket]})); err != nil {
				return fmt.Errorf("change %d: LeaveQueue: %w", k, err)
			}
			ack = time.Now()
			drop(ch.ticket)
		case kindAdmit:
			admitted++
			if err := r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_ACTIVE, admitted); err != nil {
				return fmt.Errorf("change %d: free a slot: %w", k, err)
			}
			// The processor admits on its next tick; the change is
			// acknowledged when the event shows the slot taken (the poll that
			// first shows it counts from when it was sent).
			if ack, err = r.awaitProcessing(ctx, admitted); err != nil {
				return fmt.Errorf("change %d: %w", k, err)
			}
			drop(ch.ticket)
		}
		ch.ack.Store(ack.UnixNano())
		kinds[kind]++
		r.prog.step()
	}
	changesDone := time.Now()
	res.Changes = cfg.Changes
	res.ChangesPerSecond = float64(cfg.Changes) / max(changesDone.Sub(start).Seconds(), 1e-9)
	res.Kinds = fmt.Sprintf("%d joins, %d leaves, %d admissions", kinds[0], kinds[1], kinds[2])

	// The final state every stream must reach.
	below := make([]int32, len(ids)+1) // live tickets below t
	for t := 1; t < len(ids); t++ {
		below[t+1] = below[t]
		if alive[t] {
			below[t+1]++
		}
	}
	endedBy := map[int]int{}
	for k := 1; k <= cfg.Changes; k++ {
		if ch := &m.changes[k]; ch.kind != kindJoin {
			endedBy[ch.ticket] = ch.kind
		}
	}
	atFinal := func(f *fstream) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if kind, ok := endedBy[f.ticket]; ok {
			return f.lastStatus == endStatus(kind)
		}
		return f.lastStatus == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED &&
			f.lastPos == below[f.ticket]+1 && f.lastLen == length
	}
	r.prog.begin("settle", int64(cfg.Streams), nil)
	deadline := time.Now().Add(cfg.Settle)
	final := 0
	for {
		final = 0
		for _, f := range fs {
			if atFinal(f) {
				final++
			}
		}
		r.prog.done.Store(int64(final))
		if final == len(fs) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.Final = final
	res.SettleSeconds = time.Since(changesDone).Seconds()
	var ended int64
	for _, f := range fs {
		f.mu.Lock()
		if f.ended != 0 {
			ended++
		}
		f.mu.Unlock()
	}
	r.checkStreams(ctx, ss, ended, time.Now().Add(cfg.Settle))
	if cpu1, err := fetchStats(ctx, cfg.DebugAddr); err == nil && cpuErr == nil {
		res.ServerCPUSeconds = cpu1.CPUSeconds - cpu0.CPUSeconds
	}
	if r.redis != nil {
		ra, err := r.redis.commandCounts(ctx)
		if err != nil {
			return err
		}
		per, n := diffCounts(rb, ra)
		secs := time.Since(start).Seconds()
		polls := float64(r.polls.Load())
		res.Redis = &RedisCost{
			Changes: int64(cfg.Changes), Seconds: secs, Commands: n, PerCmd: per, IdlePerSecond: idleRate,
			ToolPolls: int64(polls), PerPoll: pollCost,
			PerChange:    float64(n) / float64(max(cfg.Changes, 1)),
			NetPerChange: (float64(n) - idleRate*secs - polls*pollCost) / float64(max(cfg.Changes, 1)),
		}
	}
	res.Latency = m.all.summary()
	for k := range numKinds {
		res.ByKind[kindNames[k]] = m.byKind[k].summary()
	}
	res.Messages = m.msgs.Load()
	res.Unexpected = m.unexp.Load()
	res.Duplicates = m.dups.Load()
	res.WaitOnly = m.waits.Load()
	var pairs int64
	for _, f := range fs {
		end := cfg.Changes
		for k := 1; k <= cfg.Changes; k++ {
			if m.changes[k].ticket == f.ticket && m.changes[k].kind != kindJoin {
				end = k
				break
			}
		}
		pairs += int64(end)
	}
	res.Coalesced = pairs - m.credits.Load()
	if final < len(fs) {
		var sample []string
		for _, f := range fs {
			if !atFinal(f) && len(sample) < 5 {
				f.mu.Lock()
				sample = append(sample, fmt.Sprintf("ticket %d shows %s position %d length %d", f.ticket, f.lastStatus, f.lastPos, f.lastLen))
				f.mu.Unlock()
			}
		}
		r.fail("%d of %d streams never reached the final state within %s; e.g. %v", len(fs)-final, len(fs), cfg.Settle, sample)
	}
	if res.Unexpected > 0 {
		r.fail("%d unexpected messages: %v", res.Unexpected, m.bad)
	}
	if res.Duplicates > 0 {
		r.fail("%d duplicate messages (a state the stream already showed)", res.Duplicates)
	}
	if !cfg.Verify {
		return nil
	}
	var exp []expect
	for t := 1; t < len(ids); t++ {
		if alive[t] {
			exp = append(exp, expect{id: ids[t], pos: below[t] + 1})
		}
	}
	sort.Slice(exp, func(a, b int) bool { return exp[a].pos < exp[b].pos })
	return r.verify(ctx, exp, false)
}

// awaitProcessing polls the event until n sessions hold a slot and returns
// when the poll that first showed it was sent.
func (r *runner) awaitProcessing(ctx context.Context, n int32) (time.Time, error) {
	for {
		sent := time.Now()
		r.polls.Add(1)
		got, err := r.processing(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("GetEvent: %w", err)
		}
		if got > n {
			return time.Time{}, fmt.Errorf("%d sessions hold a checkout slot with capacity for %d", got, n)
		}
		if got == n {
			return sent, nil
		}
		if err := sleep(ctx, 2*time.Millisecond); err != nil {
			return time.Time{}, errors.New("timed out waiting for the processor to admit")
		}
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
