package main

import (
	"testing"

	"github.com/waitroom/waitroom/internal/serveconf"
)

// startFloorServer runs the floor in-process on loopback ports.
func startFloorServer(t *testing.T) target {
	t.Helper()
	f, err := startFloor("127.0.0.1:0", "127.0.0.1:0", serveconf.DefaultMaxStreamsPerConn)
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
