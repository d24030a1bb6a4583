package redisstore_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// A Redis that is up but stalled (SIGSTOP: a machine too busy to run it) for
// less than the store's timeout is slow, not down: calls made meanwhile wait
// for it and succeed, with the default settings.
func TestStalledRedisShorterThanTimeoutSucceeds(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ev, now := "stall-"+fmt.Sprint(time.Now().UnixNano()), time.Now().UTC().Truncate(time.Millisecond)
	first, _, _, err := st.Join(t.Context(), joinParams(ev, "before", now))
	if err != nil {
		t.Fatal(err)
	}

	var thawed atomic.Bool
	thaw := srv.Freeze()
	type result struct {
		name     string
		err      error
		answered bool // only after the thaw: Redis did the work
	}
	calls := map[string]func() error{
		"Join": func() error { _, _, _, err := st.Join(t.Context(), joinParams(ev, "during", now)); return err },
		"Admit": func() error {
			_, err := st.Admit(t.Context(), ev, now, 1)
			return err
		},
		"Ping": func() error { return st.Ping(t.Context()) },
	}
	results := make(chan result, len(calls))
	for name, call := range calls {
		go func() {
			err := call()
			results <- result{name, err, thawed.Load()}
		}()
	}
	// A stall well inside DefaultTimeout (5 s), longer than the 1 s the store
	// used to allow.
	time.Sleep(1500 * time.Millisecond)
	thawed.Store(true)
	thaw()
	for range calls {
		r := <-results
		if r.err != nil {
			t.Errorf("%s during a 1.5 s stall: %v, want success (slow is not down)", r.name, r.err)
		}
		if !r.answered {
			t.Errorf("%s returned before Redis was thawed: the stall did not hold it", r.name)
		}
	}
	s, _, err := st.Session(t.Context(), first.ID)
	if err != nil || s.Status != queue.StatusReady {
		t.Fatalf("the session admitted during the stall: %+v, %v", s, err)
	}
}

// Past the timeout a stalled Redis gives queue.ErrTimeout, which the API
// answers DeadlineExceeded, never ErrUnavailable; the same connection serves
// again once Redis answers. (The client's connection timeout is long here, so
// that only the call's deadline can end the wait.)
func TestStalledRedisPastTimeoutTimesOut(t *testing.T) {
	srv := redistest.Start(t)
	c, err := rueidis.NewClient(redisstore.ClientOption([]string{srv.Addr()}, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st := redisstore.New(c, redisstore.Config{Timeout: 200 * time.Millisecond, Logger: testLogger(t)})
	ev, now := "stall-past-"+fmt.Sprint(time.Now().UnixNano()), time.Now().UTC().Truncate(time.Millisecond)
	if _, _, _, err := st.Join(t.Context(), joinParams(ev, "before", now)); err != nil {
		t.Fatal(err)
	}

	thaw := srv.Freeze()
	_, _, _, err = st.Join(t.Context(), joinParams(ev, "during", now))
	thaw()
	if !errors.Is(err, queue.ErrTimeout) || errors.Is(err, queue.ErrUnavailable) {
		t.Fatalf("Join on a stalled Redis past the timeout: %v, want ErrTimeout and not ErrUnavailable", err)
	}
	waitUp(t, st)
	// The timed-out join may have run once Redis woke (scripts are safe to
	// retry): retrying returns that session or makes it.
	if _, _, _, err := st.Join(t.Context(), joinParams(ev, "during", now)); err != nil {
		t.Fatalf("Join after the stall: %v", err)
	}
}
