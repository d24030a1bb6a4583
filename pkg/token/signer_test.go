package token

import (
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// concurrentSign is a signature taking d that appends "!" and records how
// many ran at once at most.
type concurrentSign struct {
	d            time.Duration
	mu           sync.Mutex
	active, peak int
}

func (c *concurrentSign) sign(in string) ([]byte, error) {
	c.mu.Lock()
	c.active++
	c.peak = max(c.peak, c.active)
	c.mu.Unlock()
	time.Sleep(c.d)
	c.mu.Lock()
	c.active--
	c.mu.Unlock()
	return []byte(in + "!"), nil
}

// TestSignersBounded checks the signer pool: every caller gets its own
// result, no more than max signatures run at once even with a hundred
// callers (the rest wait for a worker rather than start one), and after
// close the workers are gone and signing still works, on the caller.
func TestSignersBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &concurrentSign{d: time.Millisecond}
		s := newSigners(c.sign, 2)
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				in := strconv.Itoa(i)
				out, err := s.do(in)
				if err != nil || string(out) != in+"!" {
					t.Errorf("do(%q) = %q, %v", in, out, err)
				}
			})
		}
		wg.Wait()
		if c.peak != 2 {
			t.Errorf("%d signatures ran at once, want 2 (max)", c.peak)
		}
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		if running != 2 {
			t.Errorf("%d workers started for 100 calls, want 2", running)
		}
		s.close()
		if out, err := s.do("after"); err != nil || string(out) != "after!" {
			t.Errorf("after close: %q, %v", out, err)
		}
	})
}

// TestSignerPanicReachesTheCaller: a signature that panics on a worker
// panics on the caller's goroutine, where the request's recovery is, and the
// worker goes on signing.
func TestSignerPanicReachesTheCaller(t *testing.T) {
	s := newSigners(func(in string) ([]byte, error) {
		if in == "bad" {
			panic("signer bug")
		}
		return []byte(in + "!"), nil
	}, 1)
	defer s.close()
	func() {
		defer func() {
			if r := recover(); r != "signer bug" {
				t.Errorf("recovered %v, want the signer's panic", r)
			}
		}()
		s.do("bad")
		t.Error("do returned after its signature panicked")
	}()
	if out, err := s.do("good"); err != nil || string(out) != "good!" {
		t.Errorf("after the panic: %q, %v", out, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != 1 {
		t.Errorf("%d workers, want the one that recovered", s.running)
	}
}

// TestNoWorkersSignsOnTheCaller: with no workers (a signer that may wait on
// the network), every signature runs on its caller, as many at once as
// there are callers.
func TestNoWorkersSignsOnTheCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &concurrentSign{d: 50 * time.Millisecond} // a remote signer's round trip
		s := newSigners(c.sign, 0)
		defer s.close()
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { s.do(strconv.Itoa(i)) })
		}
		wg.Wait()
		if c.peak != 20 || s.running != 0 {
			t.Errorf("%d signatures at once on %d workers, want 20 on 0", c.peak, s.running)
		}
	})
}
