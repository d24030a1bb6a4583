package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// TestFanoutCadence runs the fanout scenario against a server whose cadence
// starts at position 20 and caps at 300ms, so that most streams are held
// back: no stream may show a change later than its cadence allows, every
// admitted stream must see READY, and every final state must be exact. The
// slack is wide (5s against a 300ms cadence) so that a busy machine cannot
// fail it; a stream the server forgot would still miss it, and the exact
// timing is unit-tested in pkg/queue/fanout on a fake clock.
func TestFanoutCadence(t *testing.T) {
	srv := servertest.Start(t, server.Config{
		DebugAddr: "127.0.0.1:0",
		Queue:     queue.Config{ProcessInterval: 20 * time.Millisecond},
		Fanout: fanout.Config{Coalesce: 10 * time.Millisecond, RealtimePositions: 20,
			MaxInterval: 300 * time.Millisecond},
		AdminToken: testAdminToken,
		JoinLimit:  api.JoinLimitConfig{PerSecond: -1},
		Logger:     slog.New(slog.DiscardHandler),
	})
	rep := runScenario(t, target{srv.Addr().String(), srv.DebugAddr().String()}, "-scenario", "fanout",
		"-event", "ci-cadence", "-streams", "300", "-streams-per-conn", "100",
		"-changes", "80", "-change-rate", "40", "-mix", "join=2,leave=1,admit=1", "-c", "16", "-cadence-slack", "5s")
	f := rep.Fanout
	if f == nil || f.Final != 300 || f.Cadence == nil {
		t.Fatalf("fanout result %+v", f)
	}
	c := f.Cadence
	if c.RealtimePositions != 20 || c.MaxIntervalMS != 300 || c.SlackMS != 5000 {
		t.Errorf("cadence read from the server: %+v", c)
	}
	if c.Misses != 0 || c.ReadyWant == 0 || c.Ready.Count != c.ReadyWant {
		t.Errorf("cadence: %d late pairs, %d of %d READY", c.Misses, c.Ready.Count, c.ReadyWant)
	}
	if c.Server == nil || c.Server.Held == 0 {
		t.Errorf("the server held nothing back: %+v", c.Server)
	}
	if c.Bands["<=1k"].Count == 0 {
		t.Errorf("no pair measured by band: %+v", c.Bands)
	}
}

// TestCadenceCheckCountsLatePairs: a pair later than the interval of the
// position the stream showed, plus the slack, is a miss; an end of stream
// gets the slack alone.
func TestCadenceCheckCountsLatePairs(t *testing.T) {
	cc := &cadenceCheck{slack: time.Second, cad: fanout.Cadence{Coalesce: 100 * time.Millisecond,
		RealtimePositions: 1000, MaxInterval: 5 * time.Second}}
	cc.credit(1, 500, 499, false, false, 1100*time.Millisecond, time.Time{})     // realtime: 1s allowed
	cc.credit(2, 2000, 1999, false, false, 1300*time.Millisecond, time.Time{})   // 0.4s + 1s allowed
	cc.credit(3, 80000, 79999, false, false, 5900*time.Millisecond, time.Time{}) // 5s + 1s allowed
	cc.credit(4, 80000, 80000, true, true, 1500*time.Millisecond, time.Time{})   // READY: 1s allowed
	if n := cc.misses.Load(); n != 2 {
		t.Fatalf("%d misses, want 2 (tickets 1 and 4): %v", n, cc.bad)
	}
	if cc.ready.n.Load() != 1 || cc.bands[1].n.Load() != 1 || cc.bands[2].n.Load() != 1 || cc.front.n.Load() != 1 {
		t.Error("pairs not counted in their bands")
	}
}
