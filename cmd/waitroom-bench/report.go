package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured; it is printed as a table and written
// as JSON.
type Report struct {
	Config   Config    `json:"config"`
	Store    string    `json:"store,omitempty"`
	FDLimit  uint64    `json:"fd_limit,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`

	Join   *JoinResult   `json:"join,omitempty"`
	Fanout *FanoutResult `json:"fanout,omitempty"`
	Admit  *AdmitResult  `json:"admit,omitempty"`
	Verify *VerifyResult `json:"verify,omitempty"`
	// Failures are correctness failures: missed updates, wrong states,
	// wrong positions. Any makes the tool exit 1.
	Failures []string `json:"failures"`
}

func (rep *Report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	lat := func(k string, l Latency) {
		row(k, "p50 %s  p90 %s  p99 %s  max %s  (n=%d)", fms(l.P50MS), fms(l.P90MS), fms(l.P99MS), fms(l.MaxMS), l.Count)
	}
	c := rep.Config
	fmt.Fprintf(tw, "\nwaitroom-bench %s — %s, protocol %s, store %s, event %s\n", c.Scenario, c.Addr, c.Protocol, orDash(rep.Store), c.Event)
	if j := rep.Join; j != nil {
		row("prefilled queue", "%d", j.Prefill)
		row("joins", "%d ok, %d errors, concurrency %d, %d conns", j.OK, j.Errors, c.Concurrency, c.Conns)
		if c.Rate > 0 {
			row("target rate", "%.0f/s (open loop: latency counts from each call's scheduled time)", c.Rate)
		}
		row("throughput", "%.0f joins/s over %.2fs", j.PerSecond, j.Seconds)
		lat("latency", j.Latency)
		if j.ServerCPUSeconds > 0 {
			row("server CPU", "%.2fs (%.1f µs per join)", j.ServerCPUSeconds, j.ServerCPUMicrosPerJoin)
		}
		if d := j.Disk; d != nil && d.Commits > 0 {
			row("disk commits", "%d, %.1f records each, %.2f ms each", d.Commits, float64(d.Records)/float64(d.Commits), 1e3*d.CommitSeconds/float64(d.Commits))
		}
		if j.Redis != nil {
			row("redis commands", "%.2f per join  [%s]", j.Redis.PerChange, j.Redis)
		}
	}
	if f := rep.Fanout; f != nil && f.Conns == 0 {
		row("streams", "none opened: the run stopped before")
	}
	if f := rep.Fanout; f != nil && f.Conns > 0 {
		row("streams", "%d open on %d connections (opened in %.1fs, %.0f/s)", f.Streams, f.Conns, f.OpenSeconds, float64(f.Streams)/max(f.OpenSeconds, 1e-9))
		if f.Cost != nil {
			row("server memory / stream", "%s total, %s RSS, %s heap, %s stack, %.2f goroutines",
				kib(f.Cost.TotalBytesPerStream), kib(f.Cost.RSSBytesPerStream), kib(f.Cost.HeapBytesPerStream), kib(f.Cost.StackBytesPerStream), f.Cost.GoroutinesPerStream)
		}
		row("changes", "%d (%s) at %.1f/s target, %.1f/s achieved", f.Changes, f.Kinds, c.ChangeRate, f.ChangesPerSecond)
		lat("change → stream", f.Latency)
		for _, k := range []string{"join", "leave", "admit"} {
			if l, ok := f.ByKind[k]; ok && l.Count > 0 {
				lat("  after "+map[string]string{"join": "a join", "leave": "a leave", "admit": "an admission"}[k], l)
			}
		}
		row("messages received", "%d (%.1f per stream), %d coalesced-away pairs, %d only moved the estimated wait", f.Messages, float64(f.Messages)/float64(max(f.Streams, 1)), f.Coalesced, f.WaitOnly)
		row("final state", "%d/%d streams reached it (settled %.2fs after the last change)", f.Final, f.Streams, f.SettleSeconds)
		row("unexpected / duplicate", "%d / %d messages", f.Unexpected, f.Duplicates)
		if i := f.Idle; i != nil {
			row("idle streams", "%.0fs: server CPU %.3fs, %d heartbeats sent (%.2f rounds), %d bytes written",
				i.Seconds, i.CPUSeconds, i.Heartbeats, i.Rounds, i.WrittenBytes)
			if i.Heartbeats > 0 {
				row("  per heartbeat round", "%.3f CPU-s (%.2f µs and %.1f bytes written per heartbeat; %d B protobuf)",
					i.CPUSeconds/max(i.Rounds, 1e-9), 1e6*i.CPUSeconds/float64(i.Heartbeats),
					float64(i.WrittenBytes)/float64(i.Heartbeats), i.HeartbeatPayload)
			}
		}
		printCadence(f.Cadence, row, lat)
		if f.ServerCPUSeconds > 0 {
			row("server CPU in changes", "%.2fs (%.1f ms per change, %.1f µs per message sent)", f.ServerCPUSeconds,
				1000*f.ServerCPUSeconds/float64(max(f.Changes, 1)), 1e6*f.ServerCPUSeconds/float64(max(f.Messages, 1)))
		}
		if f.Redis != nil {
			row("redis commands", "%.2f per change; %.2f net of %.1f/s background and %d admission polls × %.1f  [%s]",
				f.Redis.PerChange, f.Redis.NetPerChange, f.Redis.IdlePerSecond, f.Redis.ToolPolls, f.Redis.PerPoll, f.Redis)
		}
	}
	if a := rep.Admit; a != nil && a.Admitted == 0 && len(rep.Failures) == 0 {
		row("admitted", "none: the run stopped before")
	}
	if a := rep.Admit; a != nil && (a.Admitted > 0 || len(rep.Failures) > 0) {
		row("queue / admitted", "%d / %d (streams on every admitted session)", a.Queue, a.Admitted)
		row("first READY", "%.0f ms after the slots freed (includes the processor tick)", a.FirstReadyMS)
		lat("slots freed → READY", a.Latency)
		if a.ServerCPUSeconds > 0 {
			row("server CPU", "%.2fs until the last READY", a.ServerCPUSeconds)
		}
		row("stream messages", "%d until the last READY (%.1f per admitted stream)", a.Messages, float64(a.Messages)/float64(max(a.Admitted, 1)))
		row("admission rate", "%.0f users/s from the first READY to the last, %.0f users/s from the slots freeing", a.PerSecondFromFirst, a.PerSecondFromFree)
	}
	if v := rep.Verify; v != nil {
		ok := "ok"
		if !v.OK {
			ok = "FAILED"
		}
		row("verify positions", "%s: %d sessions read, %d queued, positions 1..%d (%.1fs)", ok, v.Sessions, v.Queued, v.Queued, v.Seconds)
	}
	if len(rep.Failures) == 0 {
		row("correctness", "no failures")
	} else {
		row("correctness", "%d FAILURES:", len(rep.Failures))
		for _, f := range rep.Failures {
			row("", "%s", f)
		}
	}
	tw.Flush()
}

func fms(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.2fms", v)
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
