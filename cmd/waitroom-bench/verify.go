package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
)

// VerifyResult is the final check of every remaining session.
type VerifyResult struct {
	Sessions int     `json:"sessions"`
	Queued   int     `json:"queued"`
	OK       bool    `json:"ok"`
	Seconds  float64 `json:"seconds"`
}

// expect is a session the tool believes is queued; pos, when not 0, is the
// exact position it must have.
type expect struct {
	id  string
	pos int32
}

// verify reads every session with GetQueueStatus and checks that the queued
// ones hold exactly the positions 1..n, that every one reports queue length
// n, and that each has the position the tool's own model gives it. When
// admittable, sessions may have been admitted meanwhile (an event the tool
// could not pause) and only the queued ones are checked, without exact places.
func (r *runner) verify(ctx context.Context, sessions []expect, admittable bool) error {
	p, err := r.unaryPool(ctx)
	if err != nil {
		return err
	}
	res := &VerifyResult{Sessions: len(sessions)}
	r.rep.Verify = res
	start := time.Now()
	r.prog.begin("verify positions", int64(len(sessions)), nil)
	type got struct {
		pos, n int32
		status waitroomv1.SessionStatus
		err    error
	}
	out := make([]got, len(sessions))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range min(r.cfg.Concurrency, len(sessions)) {
		c := p.client(w)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(sessions) {
					return
				}
				m, err := c.GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: sessions[i].id}))
				if err != nil {
					out[i].err = err
				} else {
					out[i] = got{pos: m.Msg.GetPosition(), n: m.Msg.GetQueueLength(), status: m.Msg.GetStatus()}
				}
				r.prog.step()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	res.Seconds = time.Since(start).Seconds()

	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	queued := 0
	for i, g := range out {
		switch {
		case g.err != nil:
			report("GetQueueStatus(%s): %v", sessions[i].id, g.err)
		case g.status == waitroomv1.SessionStatus_SESSION_STATUS_QUEUED:
			queued++
		case admittable && g.status == waitroomv1.SessionStatus_SESSION_STATUS_READY:
		default:
			report("session %s is %s, want QUEUED", sessions[i].id, g.status)
		}
	}
	res.Queued = queued
	seen := make([]bool, queued+1)
	bad := 0
	for i, g := range out {
		if g.err != nil || g.status != waitroomv1.SessionStatus_SESSION_STATUS_QUEUED {
			continue
		}
		ok := true
		if g.n != int32(queued) {
			report("session %s: queue_length %d, want %d", sessions[i].id, g.n, queued)
			ok = false
		}
		switch {
		case g.pos < 1 || int(g.pos) > queued:
			report("session %s: position %d outside 1..%d", sessions[i].id, g.pos, queued)
			ok = false
		case seen[g.pos]:
			report("session %s: position %d given twice", sessions[i].id, g.pos)
			ok = false
		default:
			seen[g.pos] = true
		}
		if want := sessions[i].pos; want != 0 && !admittable && g.pos != want {
			report("session %s: position %d, want %d", sessions[i].id, g.pos, want)
			ok = false
		}
		if !ok {
			bad++
		}
	}
	res.OK = len(problems) == 0
	if !res.OK {
		r.fail("verify: %d of %d sessions wrong; first: %v", max(bad, len(problems)), len(sessions), problems)
	}
	return nil
}
