package redisstore_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/queuetest"
)

// One state change costs a constant number of Redis commands, whatever the
// queue's length and however many replicas listen: one EVALSHA from the
// client, and a fixed set of commands inside the script. Subscribers cost
// no commands at all (the service fans changes out in memory).
func TestCommandsPerChange(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ev, now := "cmds", time.Now().UTC().Truncate(time.Millisecond)
	if _, err := st.PutEvent(t.Context(), queue.Event{ID: ev, State: queue.EventActive, MaxConcurrent: 1 << 20, CheckoutWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	user := 0
	join := func() queue.Session {
		user++
		s, _, _, err := st.Join(t.Context(), joinParams(ev, fmt.Sprint("u", user), now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Load every script and list the event first: those are one-off costs.
	a, b := join(), join()
	st.Leave(t.Context(), b.ID, now)
	st.Admit(t.Context(), ev, now, 1)
	st.Complete(t.Context(), a.ID, now)
	st.Session(t.Context(), a.ID)
	st.Expire(t.Context(), ev, now, 100)
	// A few waiting, so that no measured join is the first in line (which
	// adds the event to the live list again: TestJoinIntoEmptyQueueRelists).
	for range 5 {
		join()
	}
	srv.CommandStats()

	// Each op prepares (unmeasured) and returns the call to measure.
	ops := []struct {
		name string
		prep func() func()
	}{
		{"Join", func() func() { return func() { join() } }},
		{"Leave", func() func() {
			s := join()
			return func() { st.Leave(t.Context(), s.ID, now) }
		}},
		{"Admit 1", func() func() { return func() { st.Admit(t.Context(), ev, now, 1) } }},
		{"Complete", func() func() {
			s := join()
			for {
				got, err := st.Admit(t.Context(), ev, now, 1)
				if err != nil {
					t.Fatal(err)
				}
				if got[0].ID == s.ID {
					break
				}
			}
			return func() { st.Complete(t.Context(), s.ID, now) }
		}},
		{"Session", func() func() {
			s := join()
			return func() { st.Session(t.Context(), s.ID) }
		}},
		{"Expire none", func() func() { return func() { st.Expire(t.Context(), ev, now, 100) } }},
	}
	measure := func() map[string]map[string]int64 {
		out := map[string]map[string]int64{}
		for _, op := range ops {
			call := op.prep()
			before := srv.CommandStats()
			call()
			out[op.name] = delta(before, srv.CommandStats())
		}
		return out
	}
	small := measure()

	// A long queue and many listening replicas.
	for range 2000 {
		join()
	}
	for range 50 {
		queuetest.Subscribe(t, dial(t, []string{srv.Addr()}), ev)
	}
	large := measure()

	for _, op := range ops {
		t.Logf("%-8s queue of ~5 and no listeners: %s", op.name, redistest.FormatCommands(small[op.name]))
		t.Logf("%-8s queue of 2000 and 50 listeners: %s", op.name, redistest.FormatCommands(large[op.name]))
		if !maps.Equal(small[op.name], large[op.name]) {
			t.Errorf("%s costs different commands with a long queue and listeners", op.name)
		}
	}
	// The commands of the replicas' stream reports are never a join's
	// (the server's TestRedisCommandsPerChangeConstant leaves them out).
	for _, c := range []string{"hset", "pexpire", "hdel"} {
		if n := small["Join"][c]; n != 0 {
			t.Errorf("Join ran %s %d times", c, n)
		}
	}
	// A Join is one round trip: the script.
	if n := small["Join"]["evalsha"]; n != 1 || len(clientIssued(small["Join"])) != 1 {
		t.Errorf("Join issued %v from the client, want one EVALSHA", clientIssued(small["Join"]))
	}
}

// TestJoinIntoEmptyQueueRelists: a join that is first in line costs one
// round trip more, two SADDs that put its event back on the lists (the
// event may have just gone idle and been taken off: live.go); a join behind
// it costs the script alone.
func TestJoinIntoEmptyQueueRelists(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	ctx, ev, now := t.Context(), "first", time.Now().UTC().Truncate(time.Millisecond)
	join := func(user string) queue.Session {
		t.Helper()
		s, _, _, err := st.Join(ctx, joinParams(ev, user, now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Loads the scripts and registers the event, then empties the queue.
	if _, err := st.Leave(ctx, join("warm").ID, now); err != nil {
		t.Fatal(err)
	}
	before := srv.CommandStats()
	join("first")
	first := delta(before, srv.CommandStats())
	before = srv.CommandStats()
	join("second")
	second := delta(before, srv.CommandStats())
	t.Logf("first in line: %s", redistest.FormatCommands(first))
	t.Logf("second in line: %s", redistest.FormatCommands(second))
	if first["evalsha"] != 1 || first["sadd"] != 2 {
		t.Errorf("the first in line cost %v, want one EVALSHA and two SADD", first)
	}
	if second["evalsha"] != 1 || second["sadd"] != 0 {
		t.Errorf("the second in line cost %v, want one EVALSHA and no SADD", second)
	}
}

// delta is after-before per command, minus the INFO calls that measure it
// and the client's idle-connection PINGs.
func delta(before, after map[string]int64) map[string]int64 {
	return redistest.CommandDelta(before, after, "info", "ping")
}

// clientIssued are the commands a client sends (scripts' inner calls are
// counted by INFO too).
func clientIssued(d map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range d {
		if strings.HasPrefix(k, "eval") {
			out[k] = v
		}
	}
	return out
}

// TestStreamReportCost: a replica's report of its open streams is one
// round trip of two plain commands per event it has streams of (one for an
// event it withdraws), however many streams those are.
func TestStreamReportCost(t *testing.T) {
	srv := redistest.Start(t)
	st := dial(t, []string{srv.Addr()})
	now := time.Now()
	if err := st.ReportStreams(t.Context(), "r", map[string]int64{"warm": 1}, now); err != nil {
		t.Fatal(err)
	}
	for _, streams := range []int64{10, 100_000} {
		before := srv.CommandStats()
		if err := st.ReportStreams(t.Context(), "r", map[string]int64{"a": streams, "b": streams, "warm": 0}, now); err != nil {
			t.Fatal(err)
		}
		// A connection the client opens meanwhile says hello: not the report's.
		got := redistest.CommandDelta(before, srv.CommandStats(), "info", "ping", "hello", "client|tracking")
		t.Logf("a report of 2 events with %d streams each, withdrawing one: %s", streams, redistest.FormatCommands(got))
		if want := map[string]int64{"hset": 2, "pexpire": 2, "hdel": 1}; !maps.Equal(got, want) {
			t.Fatalf("with %d streams: %v, want %v", streams, got, want)
		}
	}
}
