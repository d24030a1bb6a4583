package token

import (
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestSignersBounded checks the signer pool: every caller gets its own
// result, no more than max signatures run at once even with a hundred
// callers (the rest wait for a worker rather than start one), and after
// close the workers are gone and signing still works, on the caller.
func TestSignersBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		active, peak := 0, 0
		s := newSigners(func(in string) ([]byte, error) {
			mu.Lock()
			active++
			peak = max(peak, active)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			active--
			mu.Unlock()
			return []byte(in + "!"), nil
		})
		s.max = 2
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
		if peak != 2 {
			t.Errorf("%d signatures ran at once, want 2 (max)", peak)
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
