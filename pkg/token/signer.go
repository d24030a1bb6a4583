package token

import (
	"runtime"
	"sync"
)

// signers run signatures on a few goroutines of their own.
//
// A signature needs more stack than a stream handler has: Ed25519's scalar
// multiplication, called at the depth of Connect's handler, grew every
// admitted stream's goroutine from 8 to 16 KiB, and growing a stack copies
// it. Admitting 20,000 streams at once spent 8% of the server's CPU in that
// copy. A signer goroutine grows its stack once and signs thousands of tokens
// with it; the hand-off costs two goroutine switches.
//
// Workers start on demand, up to one per CPU, and run until close; after
// close, signatures are made on the caller's goroutine.
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
	in   string
	out  []byte
	err  error
	done chan struct{}
}

func newSigners(sign func(string) ([]byte, error)) *signers {
	return &signers{
		sign: sign,
		jobs: make(chan *signJob),
		stop: make(chan struct{}),
		max:  max(runtime.GOMAXPROCS(0), 1),
	}
}

// do returns sign(in), computed on a worker.
func (s *signers) do(in string) ([]byte, error) {
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
	return j.out, j.err
}

func (s *signers) work(j *signJob) {
	defer s.wg.Done()
	for {
		j.out, j.err = s.sign(j.in)
		j.done <- struct{}{}
		select {
		case j = <-s.jobs:
		case <-s.stop:
			return
		}
	}
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
