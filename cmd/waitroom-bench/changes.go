package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
)

// makeChanges makes the -changes changes at -change-rate, one at a time so
// the server applies them in the order the model does. It returns when the
// first was due and when the last was acknowledged.
func (f *fanoutRun) makeChanges(ctx context.Context) (start, done time.Time, err error) {
	cfg, r := f.cfg, f.r
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	var kinds [numKinds]int
	p, err := r.unaryPool(ctx)
	if err != nil {
		return start, done, err
	}
	c := p.client(0)
	interval := time.Duration(float64(time.Second) / cfg.ChangeRate)
	r.prog.begin("changes", int64(cfg.Changes), func() string {
		return fmt.Sprintf("p99 %s, messages %d", fms(ms(f.check.all.quantile(0.99))), f.check.msgs.Load())
	})
	start = time.Now()
	for k := 1; k <= cfg.Changes; k++ {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(k-1)*interval))); err != nil {
			return start, done, err
		}
		ch := f.queue.next(k, rng, cfg.mix)
		ch.sent.Store(time.Now().UnixNano())
		ack, err := f.makeChange(ctx, c, k, ch)
		if err != nil {
			return start, done, err
		}
		ch.ack.Store(ack.UnixNano())
		kinds[ch.kind]++
		r.prog.step()
	}
	done = time.Now()
	f.res.Changes = cfg.Changes
	f.res.ChangesPerSecond = float64(cfg.Changes) / max(done.Sub(start).Seconds(), 1e-9)
	f.res.Kinds = fmt.Sprintf("%d joins, %d leaves, %d admissions", kinds[0], kinds[1], kinds[2])
	return start, done, nil
}

// makeChange makes change k, which the model has issued, applies it to the
// model, and returns when the server acknowledged it.
func (f *fanoutRun) makeChange(ctx context.Context, c waitroomv1connect.WaitroomServiceClient, k int, ch *change) (time.Time, error) {
	var ack time.Time
	var id string
	switch ch.kind {
	case kindJoin:
		res, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "j-" + strconv.Itoa(k), EventId: f.cfg.Event}))
		if err != nil {
			return ack, fmt.Errorf("change %d: JoinQueue: %w", k, err)
		}
		ack = time.Now()
		if got := res.Msg; got.GetPosition() != ch.length || got.GetQueueLength() != ch.length ||
			got.GetStatus() != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED {
			f.r.fail("change %d: JoinQueue gave %s at %d of %d, want QUEUED at %d of %d",
				k, got.GetStatus(), got.GetPosition(), got.GetQueueLength(), ch.length, ch.length)
		}
		id = res.Msg.GetSessionId()
	case kindLeave:
		if _, err := c.LeaveQueue(ctx, connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: f.queue.ids[ch.ticket]})); err != nil {
			return ack, fmt.Errorf("change %d: LeaveQueue: %w", k, err)
		}
		ack = time.Now()
	case kindAdmit:
		f.queue.admitted++
		if err := f.r.putEvent(ctx, waitroomv1.EventState_EVENT_STATE_ACTIVE, f.queue.admitted); err != nil {
			return ack, fmt.Errorf("change %d: free a slot: %w", k, err)
		}
		// The processor admits on its next tick; the change is
		// acknowledged when the event shows the slot taken (the poll that
		// first shows it counts from when it was sent).
		var err error
		if ack, err = f.r.awaitProcessing(ctx, f.queue.admitted); err != nil {
			return ack, fmt.Errorf("change %d: %w", k, err)
		}
	}
	f.queue.apply(ch, id)
	return ack, nil
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

// redisIdle is the Redis work that is not the server's work per change.
type redisIdle struct {
	counts    map[string]int64 // the command counts the changes start from
	perSecond float64          // the background rate with no changes
	perPoll   float64          // one of the tool's own GetEvent polls
}

// measureRedisIdle counts the server's Redis commands for a while with no
// changes, and then those of a few of the tool's own admission polls.
func (f *fanoutRun) measureRedisIdle(ctx context.Context) (*redisIdle, error) {
	r := f.r
	c0, err := r.redis.commandCounts(ctx)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	rb, err := r.redis.commandCounts(ctx)
	if err != nil {
		return nil, err
	}
	_, idle := diffCounts(c0, rb)
	idleRate := float64(idle) / time.Since(t0).Seconds()
	t1 := time.Now()
	const probes = 20
	for range probes {
		if _, err := r.processing(ctx); err != nil {
			return nil, err
		}
	}
	c1, err := r.redis.commandCounts(ctx)
	if err != nil {
		return nil, err
	}
	_, n := diffCounts(rb, c1)
	pollCost := max(float64(n)-idleRate*time.Since(t1).Seconds(), 0) / probes
	return &redisIdle{counts: c1, perSecond: idleRate, perPoll: pollCost}, nil
}

// measureRedisCost counts the server's Redis commands from the idle counts
// until now, since the changes started, net of the idle work.
func (f *fanoutRun) measureRedisCost(ctx context.Context, idle *redisIdle, start time.Time) error {
	ra, err := f.r.redis.commandCounts(ctx)
	if err != nil {
		return err
	}
	per, n := diffCounts(idle.counts, ra)
	secs := time.Since(start).Seconds()
	polls := float64(f.r.polls.Load())
	changes := float64(max(f.cfg.Changes, 1))
	f.res.Redis = &RedisCost{
		Changes: int64(f.cfg.Changes), Seconds: secs, Commands: n, PerCmd: per, IdlePerSecond: idle.perSecond,
		ToolPolls: int64(polls), PerPoll: idle.perPoll,
		PerChange:    float64(n) / changes,
		NetPerChange: (float64(n) - idle.perSecond*secs - polls*idle.perPoll) / changes,
	}
	return nil
}
