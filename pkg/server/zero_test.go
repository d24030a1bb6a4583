package server_test

import (
	"testing"

	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// TestZeroConfigServes: a Config with nothing but the address set is a
// working server (embedded store, a generated signing key, every component
// at its own defaults) that takes a join.
func TestZeroConfigServes(t *testing.T) {
	ts := servertest.Start(t, server.Config{ListenAddr: "127.0.0.1:0"})
	j := join(t, ts.Client(), "zero", "zero-config")
	if j.GetPosition() != 1 || j.GetQueueLength() != 1 || !j.Created {
		t.Fatalf("join on a zero-config server: %v", j)
	}
}
