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
	// A Join is one round trip: the script.
	if n := small["Join"]["evalsha"]; n != 1 || len(clientIssued(small["Join"])) != 1 {
		t.Errorf("Join issued %v from the client, want one EVALSHA", clientIssued(small["Join"]))
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
