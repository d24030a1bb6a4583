package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/stats"
)

// JoinResult is the join scenario's outcome.
type JoinResult struct {
	Prefill                int        `json:"prefill"`
	OK                     int64      `json:"ok"`
	Errors                 int64      `json:"errors"`
	Seconds                float64    `json:"seconds"`
	PerSecond              float64    `json:"per_second"`
	Latency                Latency    `json:"latency"`
	ServerCPUSeconds       float64    `json:"server_cpu_seconds,omitempty"`
	ServerCPUMicrosPerJoin float64    `json:"server_cpu_us_per_join,omitempty"`
	Redis                  *RedisCost `json:"redis,omitempty"`
	// Disk is the embedded store's group commits during the joins.
	Disk        *stats.Disk `json:"disk,omitempty"`
	FirstErrors []string    `json:"first_errors,omitempty"`
}

// joined is one session the tool created.
type joined struct {
	id string
	// pos is the position JoinQueue returned; with no one leaving while the
	// queue fills, it is the session's rank in ticket order.
	pos int32
}

func (r *runner) unaryPool(ctx context.Context) (*pool, error) {
	if r.unary == nil {
		p, err := newPool(ctx, r.cfg, r.cfg.Conns)
		if err != nil {
			return nil, err
		}
		r.unary = p
	}
	return r.unary, nil
}

// putEvent sets the event's state and capacity through the admin API.
func (r *runner) putEvent(ctx context.Context, state waitroomv1.EventState, maxConcurrent int32) error {
	if r.cfg.AdminToken == "" {
		return errors.New("this scenario needs the server's admin token: pass -admin-token or set WAITROOM_ADMIN_TOKEN")
	}
	p, err := r.unaryPool(ctx)
	if err != nil {
		return err
	}
	req := connect.NewRequest(&waitroomv1.PutEventRequest{Event: &waitroomv1.Event{
		EventId: r.cfg.Event, State: state, MaxConcurrent: maxConcurrent,
	}})
	req.Header().Set("Authorization", "Bearer "+r.cfg.AdminToken)
	_, err = p.admin[0].PutEvent(ctx, req)
	return err
}

// processing reads how many of the event's sessions hold a checkout slot.
func (r *runner) processing(ctx context.Context) (int32, error) {
	req := connect.NewRequest(&waitroomv1.GetEventRequest{EventId: r.cfg.Event})
	req.Header().Set("Authorization", "Bearer "+r.cfg.AdminToken)
	res, err := r.unary.admin[0].GetEvent(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.Msg.GetEvent().GetProcessing(), nil
}

// fill joins n new users (named from prefix) with the configured
// concurrency, unmeasured, and returns their sessions in queue order.
func (r *runner) fill(ctx context.Context, phase, prefix string, n int) ([]joined, error) {
	p, err := r.unaryPool(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]joined, n)
	r.prog.begin(phase, int64(n), nil)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for w := range min(r.cfg.Concurrency, n) {
		c := p.client(w)
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				res, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{
					UserId: prefix + strconv.Itoa(i), EventId: r.cfg.Event,
				}))
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("%s: JoinQueue: %w", phase, err) })
					return
				}
				out[i] = joined{id: res.Msg.GetSessionId(), pos: res.Msg.GetPosition()}
				r.prog.step()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Sort into queue order by the position each join returned.
	sorted := make([]joined, n)
	for _, j := range out {
		if j.pos < 1 || int(j.pos) > n || sorted[j.pos-1].id != "" {
			return nil, fmt.Errorf("%s: JoinQueue returned position %d for a fresh queue of %d", phase, j.pos, n)
		}
		sorted[j.pos-1] = j
	}
	return sorted, nil
}

// join measures JoinQueue throughput and latency, on an empty queue or one
// prefilled to -prefill sessions.
func (r *runner) join(ctx context.Context) error {
	cfg := r.cfg
	res := &JoinResult{Prefill: cfg.Prefill}
	r.rep.Join = res
	p, err := r.unaryPool(ctx)
	if err != nil {
		return err
	}
	if cfg.AdminToken != "" {
		// Paused: the queue only grows, so the final check covers everyone.
		if err := r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_PAUSED, 0); err != nil {
			return fmt.Errorf("pause the event: %w", err)
		}
	}
	var sessions []joined
	if cfg.Prefill > 0 {
		if sessions, err = r.fill(ctx, "prefill", "pre-", cfg.Prefill); err != nil {
			return err
		}
	}

	var h hist
	ids := make([]string, cfg.Joins)
	before, beforeErr := fetchStats(ctx, cfg.DebugAddr)
	var rb map[string]int64
	if r.redis != nil {
		if rb, err = r.redis.commandCounts(ctx); err != nil {
			return err
		}
	}
	r.prog.begin("join", int64(cfg.Joins), func() string {
		return fmt.Sprintf("p99 so far %s", fms(ms(h.quantile(0.99))))
	})
	start := time.Now()
	nerr := r.joinAll(ctx, p, ids, &h, res, start)
	res.Seconds = time.Since(start).Seconds()
	res.Errors = nerr
	res.OK = h.n.Load() - res.Errors
	res.PerSecond = float64(res.OK) / res.Seconds
	res.Latency = h.summary()
	if after, err := fetchStats(ctx, cfg.DebugAddr); err == nil && beforeErr == nil {
		res.ServerCPUSeconds = after.CPUSeconds - before.CPUSeconds
		res.ServerCPUMicrosPerJoin = 1e6 * res.ServerCPUSeconds / float64(max(res.OK, 1))
		if after.Disk != nil && before.Disk != nil {
			res.Disk = &stats.Disk{Commits: after.Disk.Commits - before.Disk.Commits, Records: after.Disk.Records - before.Disk.Records,
				CommitSeconds: after.Disk.CommitSeconds - before.Disk.CommitSeconds}
		}
	}
	if r.redis != nil {
		ra, err := r.redis.commandCounts(ctx)
		if err != nil {
			return err
		}
		per, total := diffCounts(rb, ra)
		res.Redis = &RedisCost{Changes: res.OK, Seconds: res.Seconds, Commands: total, PerCmd: per, PerChange: float64(total) / float64(max(res.OK, 1))}
	}
	if res.Errors > 0 {
		r.fail("%d JoinQueue calls failed (first: %v)", res.Errors, res.FirstErrors)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !cfg.Verify {
		return nil
	}
	// Everyone joined in order: prefilled sessions first, then the measured
	// ones in any order among themselves.
	exp := make([]expect, 0, len(sessions)+len(ids))
	for i, s := range sessions {
		exp = append(exp, expect{id: s.id, pos: int32(i + 1)})
	}
	for _, id := range ids {
		if id != "" {
			exp = append(exp, expect{id: id})
		}
	}
	return r.verify(ctx, exp, cfg.AdminToken == "")
}

// joinAll makes the -n measured JoinQueue calls from -c workers, recording
// the session each created in ids ("" where it failed), each call's latency
// in h and the first errors in res. It returns how many calls failed.
func (r *runner) joinAll(ctx context.Context, p *pool, ids []string, h *hist, res *JoinResult, start time.Time) int64 {
	cfg := r.cfg
	var nerr atomic.Int64
	var errMu sync.Mutex
	var next atomic.Int64
	var sched <-chan time.Time
	if cfg.Rate > 0 {
		sched = r.pace(ctx, start)
	}
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		c := p.client(w)
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if sched != nil {
					at, ok := <-sched
					if !ok {
						return
					}
					t0 = at
				}
				i := int(next.Add(1) - 1)
				if i >= cfg.Joins {
					return
				}
				resp, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{
					UserId: "u-" + strconv.Itoa(i), EventId: cfg.Event,
				}))
				h.add(time.Since(t0))
				r.prog.step()
				if err != nil {
					if nerr.Add(1) <= 5 {
						errMu.Lock()
						res.FirstErrors = append(res.FirstErrors, err.Error())
						errMu.Unlock()
					}
					continue
				}
				ids[i] = resp.Msg.GetSessionId()
			}
		})
	}
	wg.Wait()
	return nerr.Load()
}

// pace hands out the scheduled start of each of the -n calls at -rate from
// start. The load is open loop: latency counts from these times, so a
// stalled server cannot hide its backlog.
func (r *runner) pace(ctx context.Context, start time.Time) <-chan time.Time {
	sched := make(chan time.Time, r.cfg.Concurrency)
	go func() {
		defer close(sched)
		interval := time.Duration(float64(time.Second) / r.cfg.Rate)
		for i := range r.cfg.Joins {
			at := start.Add(time.Duration(i) * interval)
			if d := time.Until(at); d > time.Millisecond {
				time.Sleep(d)
			}
			select {
			case sched <- at:
			case <-ctx.Done():
				return
			}
		}
	}()
	return sched
}
