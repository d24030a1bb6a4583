package token

import (
	"runtime"
	"sync"
)

// signers run signatures on a few goroutines of their own.
//
// A signature needs more stack than a stream handler has: Ed25519's scalar
// multiplication, called at the depth of Connect's handler, would double the
// stack of every admitted stream's goroutine, and growing a stack copies it.
// A signer goroutine grows its stack once and signs many tokens with it, for
// two goroutine switches per token.
//
// Workers start on demand, up to max, and run until close; after close, and
// always when max is 0, signatures are made on the caller's goroutine. A
// panic in a signature is raised again on the caller's goroutine, where the
// request's own recovery handles it, instead of ending the process.
type signers struct {
	sign func(string) ([]byte, error)
	jobs chan *signJob // unbuffered: a send succeeds only when a worker takes it
	stop chan struct{}
	max  int
	wg   sync.WaitGroup

	mu      sync.Mutex
	running int
	closed  bool
}

type signJob struct {
	in       string
	out      []byte
	err      error
	panicked any // what sign panicked with, if it did
	done     chan struct{}
}

// newSigners signs with up to workers goroutines; 0 signs on the caller.
func newSigners(sign func(string) ([]byte, error), workers int) *signers {
	return &signers{
		sign: sign,
		jobs: make(chan *signJob),
		stop: make(chan struct{}),
		max:  workers,
	}
}

// cpuWorkers is the pool size for signatures computed in process: one per
// CPU, as a signature is pure computation.
func cpuWorkers() int { return max(runtime.GOMAXPROCS(0), 1) }

// do returns sign(in), computed on a worker.
func (s *signers) do(in string) ([]byte, error) {
	if s.max == 0 {
		return s.sign(in)
	}
	j := &signJob{in: in, done: make(chan struct{}, 1)}
	select {
	case s.jobs <- j: // an idle worker took it
	default:
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return s.sign(in)
		}
		start := s.running < s.max
		if start {
			s.running++
			s.wg.Add(1)
		}
		s.mu.Unlock()
		if start {
			go s.work(j)
			break
		}
		select { // every worker is busy: wait for one
		case s.jobs <- j:
		case <-s.stop:
			return s.sign(in)
		}
	}
	<-j.done
	if j.panicked != nil {
		panic(j.panicked)
	}
	return j.out, j.err
}

func (s *signers) work(j *signJob) {
	defer s.wg.Done()
	for {
		s.run(j)
		j.done <- struct{}{}
		select {
		case j = <-s.jobs:
		case <-s.stop:
			return
		}
	}
}

// run signs j, catching a panic for the caller to raise.
func (s *signers) run(j *signJob) {
	defer func() {
		if r := recover(); r != nil {
			j.panicked = r
		}
	}()
	j.out, j.err = s.sign(j.in)
}

// close stops the workers and waits for them to exit.
func (s *signers) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}
