package main

import (
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/serveconf"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
)

// startFloorServer runs the floor in-process on loopback ports.
func startFloorServer(t *testing.T) target {
	t.Helper()
	f, err := startFloor("127.0.0.1:0", "127.0.0.1:0", serveconf.DefaultMaxStreamsPerConn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return target{f.Addr().String(), f.DebugAddr().String()}
}

// TestFloorPassesTheScenarios runs the fanout and join scenarios against the
// floor as they run against the server: the floor's figures only compare if
// its streams carry the same exact states, and the tool's checks hold it to
// that.
func TestFloorPassesTheScenarios(t *testing.T) {
	to := startFloorServer(t)
	for _, proto := range []string{"connect", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			rep := runScenario(t, to, "-scenario", "fanout", "-protocol", proto,
				"-event", "floor-fanout-"+proto, "-streams", "120", "-streams-per-conn", "50",
				"-changes", "60", "-change-rate", "200", "-mix", "join=2,leave=2,admit=1", "-c", "16")
			f := rep.Fanout
			if f == nil || f.Final != 120 || f.Unexpected != 0 || f.Duplicates != 0 || f.Latency.Count == 0 {
				t.Fatalf("fanout result %+v", f)
			}
			if f.Cost == nil || f.Cost.Streams != 120 || f.ServerCPUSeconds < 0 {
				t.Errorf("floor cost not measured from its stats: %+v", f.Cost)
			}
			if rep.Verify == nil || !rep.Verify.OK {
				t.Errorf("verify: %+v", rep.Verify)
			}
		})
	}
	rep := runScenario(t, to, "-scenario", "join", "-event", "floor-join", "-n", "300", "-prefill", "200", "-c", "8")
	if rep.Join.OK != 300 || rep.Verify == nil || !rep.Verify.OK || rep.Verify.Queued != 500 {
		t.Errorf("join: %+v verify %+v", rep.Join, rep.Verify)
	}
}

// TestFloorCadence runs the cadence check against the floor on a cadence
// that holds most streams back (as TestFanoutCadence does against the
// server): the cadenced floor divides the cadence scenarios only if its
// streams show every change within the same allowance and end exact.
func TestFloorCadence(t *testing.T) {
	f, err := startFloor("127.0.0.1:0", "127.0.0.1:0", serveconf.DefaultMaxStreamsPerConn,
		&fanout.Cadence{Coalesce: 10 * time.Millisecond, RealtimePositions: 20, MaxInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	rep := runScenario(t, target{f.Addr().String(), f.DebugAddr().String()}, "-scenario", "fanout",
		"-event", "floor-cadence", "-streams", "300", "-streams-per-conn", "100",
		"-changes", "80", "-change-rate", "40", "-mix", "join=2,leave=1,admit=1", "-c", "16", "-cadence-slack", "5s")
	fo := rep.Fanout
	if fo == nil || fo.Final != 300 || fo.Unexpected != 0 || fo.Cadence == nil {
		t.Fatalf("fanout result %+v", fo)
	}
	c := fo.Cadence
	if c.RealtimePositions != 20 || c.MaxIntervalMS != 300 {
		t.Errorf("cadence read from the floor: %+v", c)
	}
	if c.Misses != 0 || c.ReadyWant == 0 || c.Ready.Count != c.ReadyWant {
		t.Errorf("cadence: %d late pairs, %d of %d READY", c.Misses, c.Ready.Count, c.ReadyWant)
	}
	if c.Server == nil || c.Server.Held == 0 {
		t.Errorf("the floor held nothing back: %+v", c.Server)
	}
	if rep.Verify == nil || !rep.Verify.OK {
		t.Errorf("verify: %+v", rep.Verify)
	}
}

// TestFloorRefusesNoRealtimePositions: as the server refuses a
// QUEUE_STREAM_REALTIME_POSITIONS below 1, the floor refuses one for its
// cadence (0 would hold nothing back and measure a different load).
func TestFloorRefusesNoRealtimePositions(t *testing.T) {
	for _, n := range []string{"0", "-3"} {
		if rc := floorMain([]string{"-cadence", "-realtime-positions", n, "-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0"}); rc != 2 {
			t.Errorf("-realtime-positions %s: exit %d, want 2", n, rc)
		}
	}
}
