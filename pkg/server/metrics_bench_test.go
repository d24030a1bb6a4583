package server_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// metricsModes are the two sides of the metrics' cost: none recorded
// (METRICS_ADDR=off, no OTLP), and served for Prometheus.
var metricsModes = []struct{ name, addr string }{
	{"metrics=off", server.MetricsOff},
	{"metrics=on", "127.0.0.1:0"},
}

// BenchmarkStreamFanoutMetrics is BenchmarkStreamFanout at 10,000 streams
// with metrics off and on. Run the two in separate, interleaved processes
// (see BENCHMARKS.md) rather than back to back in one.
//
//	go test -run '^$' -bench 'StreamFanoutMetrics/metrics=on' -benchtime 200x ./pkg/server/
func BenchmarkStreamFanoutMetrics(b *testing.B) {
	for _, m := range metricsModes {
		b.Run(m.name, func(b *testing.B) { benchFanout(b, 10000, m.addr) })
	}
}

// BenchmarkJoinQueueMetrics is JoinQueue through the real server over h2c,
// 32 calls in flight, with metrics off and on. An op is one call.
//
//	go test -run '^$' -bench 'JoinQueueMetrics/metrics=on' -benchtime 20000x ./pkg/server/
func BenchmarkJoinQueueMetrics(b *testing.B) {
	for _, m := range metricsModes {
		b.Run(m.name, func(b *testing.B) {
			srv := servertest.Start(b, server.Config{
				Queue:       queue.Config{ProcessInterval: time.Hour},
				JoinLimit:   api.JoinLimitConfig{PerSecond: -1},
				MetricsAddr: m.addr,
				Logger:      slog.New(slog.DiscardHandler),
			})
			ctx := context.Background()
			const event = "bench-join"
			if _, err := srv.Service().PutEvent(ctx, queue.Event{ID: event, State: queue.EventPaused}); err != nil {
				b.Fatal(err)
			}
			c := srv.Client()
			var user atomic.Int64
			b.SetParallelism(16) // 32 in flight on 2 Ps
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := connect.NewRequest(&waitroomv1.JoinQueueRequest{UserId: "u-" + strconv.FormatInt(user.Add(1), 10), EventId: event})
					if _, err := c.JoinQueue(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			reportCPU(b, cpu)
		})
	}
}

// cpuTime is the process's CPU time so far (user and system): on a shared
// machine it moves far less with other work than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per op since start: server and
// in-process client together.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
