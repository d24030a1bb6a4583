package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/gen/waitroom/v1/waitroomv1connect"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// benchServer runs the real server on a loopback port for a benchmark: the
// processor idle, streams coalescing for 1ms, no logs, metrics served on
// metricsAddr (empty: a loopback port of its own; server.MetricsOff: none).
func benchServer(b *testing.B, metricsAddr string) *servertest.Server {
	b.Helper()
	return servertest.Start(b, server.Config{
		Queue:       queue.Config{ProcessInterval: time.Hour},
		Fanout:      fanout.Config{Coalesce: time.Millisecond},
		MetricsAddr: metricsAddr,
		Logger:      slog.New(slog.DiscardHandler),
	})
}

// BenchmarkStreamFanout is one queue change reaching every open stream over
// real h2c connections: an op is a join followed by every stream receiving
// the new queue length. The client's decoding runs in the same process, so
// read the profile for the server's share (queue.*, net/http server, connect
// handler frames).
//
//	go test -run '^$' -bench StreamFanout -benchtime 50x -cpuprofile cpu.prof ./pkg/server/
func BenchmarkStreamFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("streams="+strconv.Itoa(n), func(b *testing.B) { benchFanout(b, n, "") })
	}
}

// benchHook, when set, runs once every stream is open.
var benchHook func()

func benchFanout(b *testing.B, n int, metricsAddr string) {
	srv := benchServer(b, metricsAddr)
	svc := srv.Service()
	ctx := context.Background()
	const event = "bench-fanout"
	if _, err := svc.PutEvent(ctx, queue.Event{ID: event, State: queue.EventPaused}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		v, _, err := svc.Join(ctx, "s-"+strconv.Itoa(i), event)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = v.Session.ID
	}
	const perConn = 1000
	var clients []waitroomv1connect.WaitroomServiceClient
	for range (n + perConn - 1) / perConn {
		c := srv.Client()
		// One call first, so the transport knows the connection before the
		// streams arrive and multiplexes them on it instead of dialing more.
		if _, err := c.GetQueueStatus(ctx, connect.NewRequest(&waitroomv1.GetQueueStatusRequest{SessionId: ids[0]})); err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	var want atomic.Int32
	var reached atomic.Int64
	var msgs atomic.Int64
	all := make(chan struct{}, 1)
	want.Store(int32(n))
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, id := range ids {
		c := clients[i/perConn]
		wg.Go(func() {
			st, err := c.StreamQueuePosition(sctx, connect.NewRequest(&waitroomv1.StreamQueuePositionRequest{SessionId: id}))
			if err != nil {
				return
			}
			defer st.Close()
			for st.Receive() {
				msgs.Add(1)
				if st.Msg().GetQueueLength() == want.Load() && reached.Add(1) == int64(n) {
					all <- struct{}{}
				}
			}
		})
	}
	wait := func() {
		select {
		case <-all:
		case <-time.After(time.Minute):
			b.Fatalf("only %d of %d streams reached queue length %d", reached.Load(), n, want.Load())
		}
	}
	wait()
	if benchHook != nil {
		benchHook()
	}
	stacks := stackBytes()
	msgs.Store(0)
	cpu := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		reached.Store(0)
		want.Add(1)
		if _, _, err := svc.Join(ctx, fmt.Sprintf("j-%d", i), event); err != nil {
			b.Fatal(err)
		}
		wait()
	}
	b.StopTimer()
	reportCPU(b, cpu)
	b.ReportMetric(float64(stacks)/float64(n), "stack-B/stream")
	b.ReportMetric(float64(msgs.Load())/float64(b.N), "msgs/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs.Load()), "ns/msg")
}

// stackBytes is the memory goroutine stacks hold, the client's included.
func stackBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
