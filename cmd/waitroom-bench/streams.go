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

// streamSet is many open StreamQueuePosition calls, spread over enough
// connections that none carries more than -streams-per-conn of them.
type streamSet struct {
	pool   *pool
	cancel context.CancelFunc
	wg     sync.WaitGroup

	opened   atomic.Int64 // first message received
	ended    atomic.Int64 // ended by the server after a final status
	failed   atomic.Int64 // ended with an error
	errMu    sync.Mutex
	firstErr error
	openSecs float64
}

// maxOpening bounds the streams waiting for their first message, so opening
// 100k streams is a steady flow rather than one burst.
const maxOpening = 2000

// openStreams opens one stream per session and calls handle for every
// message, from that stream's own goroutine (so calls for one stream never
// overlap). It returns once every stream has received its first message.
func (r *runner) openStreams(ctx context.Context, ids []string, handle func(i int, m *waitroomv1.PositionUpdate, at time.Time)) (*streamSet, error) {
	conns := (len(ids) + r.cfg.StreamsPerConn - 1) / r.cfg.StreamsPerConn
	p, err := newPool(ctx, r.cfg, conns)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	ss := &streamSet{pool: p, cancel: cancel}
	sem := make(chan struct{}, maxOpening)
	start := time.Now()
	r.prog.begin(fmt.Sprintf("open streams on %d connections", conns), int64(len(ids)), func() string {
		return fmt.Sprintf("ended %d, failed %d", ss.ended.Load(), ss.failed.Load())
	})
	for i, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			ss.close()
			return nil, ctx.Err()
		}
		c := p.client(i / r.cfg.StreamsPerConn)
		ss.wg.Go(func() {
			first := true
			release := func() {
				if first {
					first = false
					<-sem
				}
			}
			defer release()
			st, err := c.StreamQueuePosition(sctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: id}))
			if err != nil {
				ss.failure(sctx, fmt.Errorf("stream %s: %w", id, err))
				return
			}
			defer st.Close()
			for st.Receive() {
				at := time.Now()
				handle(i, st.Msg(), at)
				if first {
					ss.opened.Add(1)
					r.prog.step()
					release()
				}
			}
			if err := st.Err(); err != nil {
				ss.failure(sctx, fmt.Errorf("stream %s: %w", id, err))
				return
			}
			ss.ended.Add(1)
		})
	}
	// Wait for the last first messages.
	for i := 0; i < maxOpening; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			ss.close()
			return nil, ctx.Err()
		}
	}
	ss.openSecs = time.Since(start).Seconds()
	if n := ss.failed.Load(); n > 0 {
		err := ss.err()
		ss.close()
		return nil, fmt.Errorf("%d streams failed to open; first: %w", n, err)
	}
	return ss, nil
}

// awaitEnded waits until want streams have been ended by the server (after
// their final status), or until deadline; it returns how many were.
func (ss *streamSet) awaitEnded(ctx context.Context, want int64, deadline time.Time) int64 {
	for ss.ended.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return ss.ended.Load()
}

// check fails the run for streams that failed after opening, and for streams
// the server left open after their final status.
func (r *runner) checkStreams(ctx context.Context, ss *streamSet, wantEnded int64, deadline time.Time) {
	if got := ss.awaitEnded(ctx, wantEnded, deadline); got != wantEnded {
		r.fail("%d streams showed a final status but %d were ended by the server", wantEnded, got)
	}
	if n := ss.failed.Load(); n > 0 {
		r.fail("%d streams ended with an error; first: %v", n, ss.err())
	}
}

func (ss *streamSet) failure(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the tool closed it
	}
	ss.failed.Add(1)
	ss.errMu.Lock()
	if ss.firstErr == nil {
		ss.firstErr = err
	}
	ss.errMu.Unlock()
}

func (ss *streamSet) err() error {
	ss.errMu.Lock()
	defer ss.errMu.Unlock()
	return ss.firstErr
}

// close cancels every stream and waits for their goroutines.
func (ss *streamSet) close() {
	ss.cancel()
	ss.wg.Wait()
	ss.pool.close()
}
