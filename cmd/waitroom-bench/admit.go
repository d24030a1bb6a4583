package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// AdmitResult is the admit scenario's outcome.
type AdmitResult struct {
	Queue    int `json:"queue"`
	Admitted int `json:"admitted"`
	// Latency runs from the admin call that freed the slots returning to
	// each admitted stream receiving READY.
	Latency      Latency `json:"latency"`
	FirstReadyMS float64 `json:"first_ready_ms"`
	LastReadyMS  float64 `json:"last_ready_ms"`
	// PerSecondFromFirst is admissions per second between the first READY
	// and the last: the rate once the processor has started admitting.
	PerSecondFromFirst float64 `json:"per_second_from_first_ready"`
	PerSecondFromFree  float64 `json:"per_second_from_free"`
	ServerCPUSeconds   float64 `json:"server_cpu_seconds,omitempty"`
	// Messages is what the streams received from the slots freeing to the
	// last READY: the READYs plus the positions of those still waiting.
	Messages int64 `json:"messages"`
}

// admit fills a paused queue, opens streams on its first -admit sessions,
// frees that many slots at once and times every READY.
func (r *runner) admit(ctx context.Context) error {
	cfg := r.cfg
	res := &AdmitResult{Queue: cfg.Queue}
	r.rep.Admit = res
	if err := r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_PAUSED, 0); err != nil {
		return fmt.Errorf("pause the event: %w", err)
	}
	sessions, err := r.fill(ctx, "fill the queue", "a-", cfg.Queue)
	if err != nil {
		return err
	}
	ids := make([]string, cfg.Admit)
	for i := range ids {
		ids[i] = sessions[i].id
	}
	readyAt := make([]atomic.Int64, cfg.Admit)
	var bad atomic.Int64
	var nready, msgs atomic.Int64
	ss, err := r.openStreams(ctx, ids, func(i int, m *waitroomv1.PositionUpdate, at time.Time) {
		msgs.Add(1)
		switch m.GetStatus() {
		case waitroomv1.SessionStatus_SESSION_STATUS_READY:
			if m.GetCheckoutToken() == "" || m.GetCheckoutUrl() == "" || m.GetPosition() != 0 {
				bad.Add(1)
			}
			if readyAt[i].CompareAndSwap(0, at.UnixNano()) {
				nready.Add(1)
			} else {
				bad.Add(1) // a second READY
			}
		case waitroomv1.SessionStatus_SESSION_STATUS_QUEUED:
			// Sessions i+1 and on wait behind it: position i+1 at best.
			if p := m.GetPosition(); p < 1 || p > int32(i+1) || m.GetQueueLength() < p {
				bad.Add(1)
			}
		default:
			bad.Add(1)
		}
	})
	if err != nil {
		return err
	}
	defer ss.close()
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	cpu0, cpuErr := fetchStats(ctx, cfg.DebugAddr)
	r.prog.begin("admit", int64(cfg.Admit), nil)
	if err := r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_ACTIVE, int32(cfg.Admit)); err != nil {
		return fmt.Errorf("free %d slots: %w", cfg.Admit, err)
	}
	freed := time.Now()
	msgs0 := msgs.Load()
	deadline := freed.Add(cfg.Settle)
	for nready.Load() < int64(cfg.Admit) && time.Now().Before(deadline) && ctx.Err() == nil {
		r.prog.done.Store(nready.Load())
		time.Sleep(20 * time.Millisecond)
	}
	res.Messages = msgs.Load() - msgs0
	if cpu1, err := fetchStats(ctx, cfg.DebugAddr); err == nil && cpuErr == nil {
		res.ServerCPUSeconds = cpu1.CPUSeconds - cpu0.CPUSeconds
	}
	res.tallyReady(readyAt, freed)
	if res.Admitted < cfg.Admit {
		r.fail("only %d of %d admitted streams saw READY within %s", res.Admitted, cfg.Admit, cfg.Settle)
	}
	if n := bad.Load(); n > 0 {
		r.fail("%d stream messages were wrong: a status other than QUEUED or READY, a place out of line, a second READY, or a READY without position 0, token and URL", n)
	}
	r.checkStreams(ctx, ss, int64(res.Admitted), time.Now().Add(cfg.Settle))
	if !cfg.Verify {
		return nil
	}
	exp := make([]expect, 0, cfg.Queue-cfg.Admit)
	for i, s := range sessions[cfg.Admit:] {
		exp = append(exp, expect{id: s.id, pos: int32(i + 1)})
	}
	return r.verify(ctx, exp, false)
}

// tallyReady writes to res how many admitted streams saw READY and how long
// after freed (when the slots were freed); readyAt holds each stream's READY
// time in Unix nanoseconds, 0 where none came.
func (res *AdmitResult) tallyReady(readyAt []atomic.Int64, freed time.Time) {
	var h hist
	var first, last time.Time
	for i := range readyAt {
		ns := readyAt[i].Load()
		if ns == 0 {
			continue
		}
		t := time.Unix(0, ns)
		h.add(t.Sub(freed))
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	res.Admitted = int(h.n.Load())
	res.Latency = h.summary()
	if res.Admitted > 0 {
		res.FirstReadyMS = ms(first.Sub(freed))
		res.LastReadyMS = ms(last.Sub(freed))
		res.PerSecondFromFree = float64(res.Admitted) / last.Sub(freed).Seconds()
		if span := last.Sub(first); span > 0 {
			res.PerSecondFromFirst = float64(res.Admitted) / span.Seconds()
		}
	}
}
