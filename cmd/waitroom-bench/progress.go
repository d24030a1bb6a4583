package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress prints one line a second to the log while a phase runs: the phase,
// how far it got, and its rate over the last second.
type progress struct {
	w     io.Writer
	quiet bool

	mu    sync.Mutex
	phase string
	total int64
	start time.Time
	extra func() string
	done  atomic.Int64

	stopc chan struct{}
	wg    sync.WaitGroup
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet, stopc: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

// begin starts a phase of total steps (0 when open-ended); extra, when not
// nil, adds phase-specific figures to each line.
func (p *progress) begin(phase string, total int64, extra func() string) {
	p.mu.Lock()
	p.phase, p.total, p.start, p.extra = phase, total, time.Now(), extra
	p.done.Store(0)
	p.mu.Unlock()
	p.logf("%s…", phase)
}

func (p *progress) step() { p.done.Add(1) }

func (p *progress) logf(format string, args ...any) {
	if !p.quiet {
		fmt.Fprintf(p.w, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

func (p *progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-p.stopc:
			return
		case <-t.C:
		}
		p.mu.Lock()
		phase, total, extra := p.phase, p.total, p.extra
		p.mu.Unlock()
		if phase == "" {
			continue
		}
		n := p.done.Load()
		line := fmt.Sprintf("%s: %d", phase, n)
		if total > 0 {
			line += fmt.Sprintf("/%d", total)
		}
		line += fmt.Sprintf(" (%d/s)", max(n-last, 0))
		last = n
		if extra != nil {
			line += "  " + extra()
		}
		p.logf("%s", line)
	}
}

func (p *progress) stop() {
	select {
	case <-p.stopc:
	default:
		close(p.stopc)
	}
	p.wg.Wait()
}
