package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waitroom/waitroom/internal/stats"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// CadenceResult is the fanout scenario's check of the server's streaming
// cadence (README, "Streaming cadence"): every (stream, change) pair must
// reach the stream within the interval the cadence gives the position the
// stream last showed, plus -cadence-slack; a READY, LEFT or EXPIRED within
// the slack alone.
type CadenceResult struct {
	RealtimePositions int64   `json:"realtime_positions"`
	CoalesceMS        float64 `json:"coalesce_ms"`
	MaxIntervalMS     float64 `json:"max_interval_ms"`
	SlackMS           float64 `json:"slack_ms"`
	// Ready is change → READY on the admitted session's own stream;
	// ReadyWant the admissions of streamed sessions.
	Ready     Latency `json:"ready"`
	ReadyWant int64   `json:"ready_want"`
	// Front is change → stream for streams within the first 1,000
	// positions; Bands the same by the stream's position after the change.
	Front Latency            `json:"front_1000"`
	Bands map[string]Latency `json:"staleness_by_band"`
	// Misses are pairs that arrived later than the cadence allows;
	// Descheduled those of them during which the server and this tool
	// together stood runnable without a CPU (run-queue time, from /proc)
	// for at least as long as the pair was late: other work on the machine
	// took the time. Only the rest fail the run. Late lists the seconds
	// (from the first change) with late pairs.
	Misses      int64            `json:"misses"`
	Descheduled int64            `json:"misses_descheduled"`
	Late        []LateSecond     `json:"late_by_second,omitempty"`
	LateBands   map[string]int64 `json:"late_by_band,omitempty"`
	// MessagesPerSecond is the messages the streams received from the
	// first change until they settled, per second.
	MessagesPerSecond float64 `json:"messages_per_second"`
	// CPUMicrosPerMessage is the server's CPU over that time per message.
	CPUMicrosPerMessage float64 `json:"server_cpu_us_per_message"`
	// MemoryPerStreamKiB is the server's memory per open stream.
	MemoryPerStreamKiB float64 `json:"memory_per_stream_kib"`
	// Server is what the server's /debug/stats said of its cadence after the run.
	Server *stats.Cadence `json:"server,omitempty"`
}

// The distance bands staleness is reported by.
var bandNames = [...]string{"<=1k", "1k-10k", ">10k"}

func bandOf(pos int32) int {
	switch {
	case pos <= 1000:
		return 0
	case pos <= 10000:
		return 1
	}
	return 2
}

// cadenceCheck holds every pair to the server's cadence.
type cadenceCheck struct {
	cad    fanout.Cadence
	slack  time.Duration
	ready  hist
	front  hist
	bands  [len(bandNames)]hist
	misses atomic.Int64
	mu     sync.Mutex
	bad    []string
	late   []latePair
	waits  *cpuWaits // nil: no samples
}

// latePair is one (stream, change) pair that arrived later than allowed.
type latePair struct {
	at, ack time.Time // when it arrived; when the change was acknowledged
	shown   int32     // the position the stream showed before
	excess  time.Duration
}

// maxLate bounds the late pairs kept for the breakdown.
const maxLate = 1 << 20

// LateSecond is one second of the run with late pairs: how many, how late
// at most past the allowance, and what the server and the tool waited for
// a CPU and the server's CPU use over the second's late pairs' windows.
type LateSecond struct {
	Second       int     `json:"second"`
	Pairs        int64   `json:"pairs"`
	Descheduled  int64   `json:"descheduled"`
	MaxExcessMS  float64 `json:"max_excess_ms"`
	ServerWaitMS float64 `json:"server_run_queue_wait_ms"`
	ToolWaitMS   float64 `json:"tool_run_queue_wait_ms"`
	ServerBusy   float64 `json:"server_cpu_busy"`
	SendsStalled int64   `json:"sends_stalled"`
	MinShown     int32   `json:"min_shown_position"`
	MaxShown     int32   `json:"max_shown_position"`
}

// newCadenceCheck takes the cadence from the server's /debug/stats; a
// server that shows none (or no stats) is held to every change at once.
func newCadenceCheck(st stats.Server, err error, slack time.Duration) *cadenceCheck {
	cc := &cadenceCheck{slack: slack}
	if err == nil {
		c := st.Cadence
		cc.cad = fanout.Cadence{
			Coalesce:          time.Duration(c.CoalesceSeconds * float64(time.Second)),
			RealtimePositions: c.RealtimePositions,
			MaxInterval:       time.Duration(c.MaxIntervalSecs * float64(time.Second)),
		}
	}
	return cc
}

// credit checks one (stream, change) pair: d from the change's
// acknowledgement to the message showing it; shown is the position the
// stream showed before that message, pos the one the change gave it, and
// end the status that ended the stream's session in this change, if any.
func (cc *cadenceCheck) credit(ticket int, shown, pos int32, end bool, ready bool, d time.Duration, at time.Time) {
	if cc == nil {
		return
	}
	allowed := cc.slack
	if !end {
		allowed += cc.cad.Interval(int64(shown))
	}
	if d > allowed {
		cc.misses.Add(1)
		cc.mu.Lock()
		if len(cc.bad) < 10 {
			cc.bad = append(cc.bad, fmt.Sprintf("ticket %d at %d (showing %d): %s after the change, allowed %s",
				ticket, pos, shown, d.Round(time.Millisecond), allowed))
		}
		if len(cc.late) < maxLate {
			cc.late = append(cc.late, latePair{at: at, ack: at.Add(-d), shown: shown, excess: d - allowed})
		}
		cc.mu.Unlock()
	}
	if ready {
		cc.ready.add(d)
		return
	}
	if end {
		return
	}
	cc.bands[bandOf(pos)].add(d)
	if pos <= 1000 {
		cc.front.add(d)
	}
}

// tally writes the cadence's figures and fails the run on any miss and on
// any admitted stream that never showed READY.
func (f *fanoutRun) tallyCadence(after *stats.Server, start time.Time, elapsed time.Duration) {
	cc, res := f.check.cad, f.res
	if cc == nil {
		return
	}
	cr := &CadenceResult{
		RealtimePositions: cc.cad.RealtimePositions,
		CoalesceMS:        ms(cc.cad.Coalesce),
		MaxIntervalMS:     ms(cc.cad.MaxInterval),
		SlackMS:           ms(cc.slack),
		Ready:             cc.ready.summary(),
		Front:             cc.front.summary(),
		Bands:             map[string]Latency{},
		Misses:            cc.misses.Load(),
	}
	for i, name := range bandNames {
		cr.Bands[name] = cc.bands[i].summary()
	}
	streams := len(f.check.streams)
	for i := 1; i < len(f.queue.changes); i++ {
		if c := &f.queue.changes[i]; c.kind == kindAdmit && c.ticket <= streams {
			cr.ReadyWant++
		}
	}
	if elapsed > 0 {
		cr.MessagesPerSecond = float64(res.Messages-int64(streams)) / elapsed.Seconds()
	}
	if res.ServerCPUSeconds > 0 && res.Messages > int64(streams) {
		cr.CPUMicrosPerMessage = 1e6 * res.ServerCPUSeconds / float64(res.Messages-int64(streams))
	}
	if res.Cost != nil {
		cr.MemoryPerStreamKiB = res.Cost.TotalBytesPerStream / 1024
	}
	if after != nil {
		c := after.Cadence
		cr.Server = &c
	}
	res.Cadence = cr
	cc.mu.Lock()
	cr.Late, cr.LateBands, cr.Descheduled = cc.lateBreakdown(start)
	if n := cr.Misses - cr.Descheduled; n > 0 {
		f.r.fail("%d (stream, change) pairs arrived later than the cadence allows (+%s slack); %d of them are not "+
			"explained by the server and this tool waiting for a CPU; e.g. %v", cr.Misses, cc.slack, n, cc.bad)
	}
	cc.mu.Unlock()
	if cr.Ready.Count != cr.ReadyWant {
		f.r.fail("%d of %d admitted streams showed READY", cr.Ready.Count, cr.ReadyWant)
	}
}

// printCadence adds the cadence's figures to the report.
func printCadence(cr *CadenceResult, row func(string, string, ...any), lat func(string, Latency)) {
	if cr == nil {
		return
	}
	row("cadence", "realtime %d positions, coalesce %s, at most %s apart; checked with %s slack: %d late pairs",
		cr.RealtimePositions, fms(cr.CoalesceMS), fms(cr.MaxIntervalMS), fms(cr.SlackMS), cr.Misses)
	printLate(cr, row)
	lat("  change → READY", cr.Ready)
	lat("  front 1,000 position", cr.Front)
	for _, name := range bandNames {
		if l := cr.Bands[name]; l.Count > 0 {
			lat("  staleness "+name, l)
		}
	}
	row("  rate and cost", "%.0f messages/s, %.1f µs server CPU per message, %.1f KiB per stream",
		cr.MessagesPerSecond, cr.CPUMicrosPerMessage, cr.MemoryPerStreamKiB)
	if s := cr.Server; s != nil {
		row("  server", "%d held back, %d parked at the end; sends by priority: %d final, %d realtime, %d cadenced; %d waited for a slot, %d stalled",
			s.Held, s.Parked, s.SentFinal, s.SentRealtime, s.SentCadenced, s.SendsQueued, s.SendsStalled)
	}
}
