package diskstore_test

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/diskstore"
	"github.com/waitroom/waitroom/pkg/queue/memstore"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sysNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Stime.Nano())
}

var sink uint64

// burn spends about 40 µs of CPU, as a request's own handling would.
func burn() {
	x := uint64(1)
	for range 30_000 {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink += x
}

func BenchmarkOneP(b *testing.B) {
	{
		for _, kind := range []string{"memory", "disk"} {
			b.Run(kind, func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
				var s queue.Store
				var ds *diskstore.Store
				if kind == "memory" {
					s = memstore.New(memstore.Config{})
				} else {
					d, err := diskstore.Open(diskstore.Config{Dir: b.TempDir()})
					if err != nil {
						b.Fatal(err)
					}
					defer d.Close()
					s, ds = d, d
				}
				const callers = 256
				n := b.N
				now := time.Now()
				var wg sync.WaitGroup
				start, c0, s0 := time.Now(), cpuNow(), sysNow()
				for c := range callers {
					wg.Go(func() {
						for i := c; i < n; i += callers {
							burn()
							_, _, _, err := s.Join(b.Context(), queue.JoinParams{SessionID: queue.NewSessionID("ev"), UserID: fmt.Sprintf("user-%d", i), EventID: "ev",
								Now: now, TTL: time.Hour, NewEvent: queue.Event{ID: "ev", State: queue.EventPaused, MaxConcurrent: 1, CheckoutWindow: time.Minute}})
							if err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				el, cpu, sys := time.Since(start), cpuNow()-c0, sysNow()-s0
				b.ReportMetric(float64(n)/el.Seconds(), "joins/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/join")
				b.ReportMetric(float64(sys.Microseconds())/float64(n), "sys-µs/join")
				if ds != nil {
					b.ReportMetric(float64(ds.Stats().Records)/float64(ds.Stats().Commits), "joins/commit")
				}
			})
		}
	}
}
