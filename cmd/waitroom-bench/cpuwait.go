package main

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/waitroom/waitroom/internal/stats"
)

// cpuWaitEvery is how often cpuWaits samples: fine enough to place a late
// pair's window, coarse enough that the server's cost of answering stays
// well under a percent.
const cpuWaitEvery = 200 * time.Millisecond

// cpuSample is how long the server and this tool had waited for a CPU while
// ready to run (their threads' run-queue time), and the server's CPU time,
// at one moment.
type cpuSample struct {
	at                     time.Time
	serverWait, toolWait   float64 // seconds
	serverCPU              float64 // seconds
	sendsStalled           int64
	serverKnown, toolKnown bool
}

// cpuWaits samples the server's /debug/stats and this process's own
// schedstat while the changes are made and the streams settle, so that a
// late pair can be told apart: did the server or the tool stand runnable
// without a CPU (other work on the machine) for as long as it was late?
type cpuWaits struct {
	addr    string
	mu      sync.Mutex
	samples []cpuSample
	cancel  context.CancelFunc
	done    chan struct{}
}

func startCPUWaits(ctx context.Context, addr string) *cpuWaits {
	ctx, cancel := context.WithCancel(ctx)
	c := &cpuWaits{addr: addr, cancel: cancel, done: make(chan struct{})}
	c.sample(ctx)
	go func() {
		defer close(c.done)
		every(ctx, cpuWaitEvery, func() { c.sample(ctx) })
	}()
	return c
}

func (c *cpuWaits) sample(ctx context.Context) {
	s := cpuSample{at: time.Now(), toolWait: stats.RunQueueWait()}
	s.toolKnown = s.toolWait > 0
	if st, err := fetchStats(ctx, c.addr); err == nil {
		s.serverWait, s.serverCPU, s.sendsStalled = st.RunQueueWaitSeconds, st.CPUSeconds, st.Cadence.SendsStalled
		s.serverKnown = st.RunQueueWaitSeconds > 0
	}
	c.mu.Lock()
	c.samples = append(c.samples, s)
	c.mu.Unlock()
}

func (c *cpuWaits) stop() {
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
}

// cpuWindow is what the samples say of a span of time.
type cpuWindow struct {
	serverWait, toolWait time.Duration
	// serverBusy is the server's CPU time over the wall time (1 is a core).
	serverBusy float64
	stalled    int64
	known      bool
}

// within is what happened between the last sample at or before from and
// the first at or after to: a window that covers [from, to], and so may
// overstate a wait by up to two sampling periods, never understate it.
func (c *cpuWaits) within(from, to time.Time) cpuWindow {
	if c == nil {
		return cpuWindow{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ss := c.samples
	if len(ss) < 2 {
		return cpuWindow{}
	}
	i := sort.Search(len(ss), func(i int) bool { return ss[i].at.After(from) }) - 1
	j := sort.Search(len(ss), func(j int) bool { return !ss[j].at.Before(to) })
	i, j = max(i, 0), min(j, len(ss)-1)
	if i >= j {
		return cpuWindow{}
	}
	a, b := ss[i], ss[j]
	w := cpuWindow{
		serverWait: secs(b.serverWait - a.serverWait),
		toolWait:   secs(b.toolWait - a.toolWait),
		stalled:    b.sendsStalled - a.sendsStalled,
		known:      a.serverKnown && b.serverKnown && a.toolKnown && b.toolKnown,
	}
	if wall := b.at.Sub(a.at).Seconds(); wall > 0 {
		w.serverBusy = (b.serverCPU - a.serverCPU) / wall
	}
	return w
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// every calls f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
