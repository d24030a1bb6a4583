package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// TestSlowRedisIsNotDown stalls Redis (SIGSTOP, as a machine too busy to run
// it) for less than REDIS_TIMEOUT's default while visitors join and open
// streams: every call waits for it and succeeds, and health never says
// NOT_SERVING. With the one-second timeout the store used to have, the join
// failed (then as Unavailable).
func TestSlowRedisIsNotDown(t *testing.T) {
	r := redistest.Start(t)
	ts := startServer(t, redisConfig(t, r.Addr()))
	c := protocols()[2].client(ts)
	ctx := context.Background()
	ahead := join(t, c, "ahead", "slow")
	hc := grpchealth.NewClient(servertest.H2CClient(), ts.URL, connect.WithGRPC())

	var thawed, notServing atomic.Bool
	thaw := r.Freeze()
	type result struct {
		what     string
		err      error
		answered bool
	}
	results := make(chan result, 2)
	go func() {
		_, err := c.JoinQueue(ctx, connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "during", EventId: "slow"}))
		results <- result{"JoinQueue", err, thawed.Load()}
	}()
	go func() {
		st, err := c.StreamQueuePosition(ctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: ahead.SessionId}))
		if err == nil {
			defer st.Close()
			if !st.Receive() {
				err = st.Err()
			}
		}
		results <- result{"StreamQueuePosition", err, true}
	}()
	stop := time.Now().Add(1500 * time.Millisecond) // well inside the 5 s default
	for time.Now().Before(stop) {
		if res, err := hc.Check(ctx, &grpchealth.CheckRequest{}); err == nil && res.Status == grpchealth.StatusNotServing {
			notServing.Store(true)
		}
		time.Sleep(50 * time.Millisecond)
	}
	thawed.Store(true)
	thaw()
	for range 2 {
		res := <-results
		if res.err != nil {
			t.Errorf("%s while Redis was stalled: %v, want success (slow is not down)", res.what, res.err)
		}
		if !res.answered {
			t.Errorf("%s returned before Redis was thawed: the stall did not hold it", res.what)
		}
	}
	if notServing.Load() {
		t.Error("health said NOT_SERVING while Redis was only stalled")
	}
}
