package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/waitroom/waitroom/pkg/api"
	"github.com/waitroom/waitroom/pkg/queue"
	"github.com/waitroom/waitroom/pkg/queue/fanout"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

const testAdminToken = "bench-test-admin-token"

// target is a server the tool runs against: its address and debug address.
type target struct{ addr, debug string }

// startServer runs the real server in-process on a loopback port.
func startServer(t *testing.T) target {
	t.Helper()
	srv := servertest.Start(t, server.Config{
		DebugAddr:  "127.0.0.1:0",
		Queue:      queue.Config{ProcessInterval: 20 * time.Millisecond},
		Fanout:     fanout.Config{Coalesce: 10 * time.Millisecond},
		AdminToken: testAdminToken,
		// The load tool is one address making thousands of joins.
		JoinLimit: api.JoinLimitConfig{PerSecond: -1},
		Logger:    slog.New(slog.DiscardHandler),
	})
	return target{srv.Addr().String(), srv.DebugAddr().String()}
}

func runScenario(t *testing.T, to target, args ...string) *Report {
	t.Helper()
	cfg, err := parseFlags(append([]string{"-addr", to.addr, "-debug-addr", to.debug, "-admin-token", testAdminToken, "-quiet", "-timeout", "2m"}, args...), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	var log io.Writer = io.Discard
	if testing.Verbose() {
		log = os.Stderr
	}
	rep, err := Run(context.Background(), cfg, log)
	if rep != nil && testing.Verbose() {
		var b strings.Builder
		rep.print(&b)
		t.Log(b.String())
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, f := range rep.Failures {
		t.Errorf("failure: %s", f)
	}
	return rep
}

// TestFanoutEveryUpdateArrives runs the fanout scenario small, over every
// protocol: every stream must follow every join, leave and admission to the
// exact final state, with no message out of place, and every remaining
// session must hold its exact position.
func TestFanoutEveryUpdateArrives(t *testing.T) {
	addr := startServer(t)
	for _, proto := range []string{"connect", "grpc", "grpcweb"} {
		t.Run(proto, func(t *testing.T) {
			// Few streams per connection, so the run spans several.
			rep := runScenario(t, addr, "-scenario", "fanout", "-protocol", proto,
				"-event", "ci-fanout-"+proto, "-streams", "120", "-streams-per-conn", "50",
				"-changes", "60", "-change-rate", "200", "-mix", "join=2,leave=2,admit=1", "-c", "16")
			f := rep.Fanout
			if f == nil || f.Final != 120 || f.Unexpected != 0 || f.Duplicates != 0 {
				t.Fatalf("fanout result %+v", f)
			}
			if f.Latency.Count == 0 {
				t.Error("no (stream, change) pair was measured")
			}
			if f.Cost == nil || f.ServerCPUSeconds <= 0 {
				t.Errorf("server cost not measured from DEBUG_ADDR: %+v, %.2fs", f.Cost, f.ServerCPUSeconds)
			}
			if rep.Verify == nil || !rep.Verify.OK {
				t.Errorf("verify: %+v", rep.Verify)
			}
		})
	}
}

// TestJoinAndAdmitScenariosAreCorrect runs the other two scenarios small: the
// queue they leave behind must hold exact positions.
func TestJoinAndAdmitScenariosAreCorrect(t *testing.T) {
	addr := startServer(t)
	rep := runScenario(t, addr, "-scenario", "join", "-event", "ci-join", "-n", "300", "-prefill", "200", "-c", "8")
	if rep.Join.OK != 300 || rep.Verify == nil || !rep.Verify.OK || rep.Verify.Queued != 500 {
		t.Errorf("join: %+v verify %+v", rep.Join, rep.Verify)
	}
	rep = runScenario(t, addr, "-scenario", "admit", "-event", "ci-admit", "-queue", "300", "-admit", "120", "-c", "8", "-settle", "30s")
	if rep.Admit.Admitted != 120 || rep.Verify == nil || !rep.Verify.OK || rep.Verify.Queued != 180 {
		t.Errorf("admit: %+v verify %+v", rep.Admit, rep.Verify)
	}
}

// TestFlags checks the guards that keep runs local and bounded.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "10.0.0.1:50056"},
		{"-addr", "example.com:50056"},
		{"-scenario", "nope"},
		{"-protocol", "http3"},
		{"-scenario", "fanout", "-mix", "join=x"},
		{"-scenario", "admit", "-queue", "5", "-admit", "10"},
		{"-src-ips", "192.168.1.1"},
		{"-redis", "10.1.1.1:6379"},
	} {
		if _, err := parseFlags(args, func(string) string { return "" }); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	if _, err := parseFlags([]string{"-addr", "localhost:1", "-timeout", "1s"}, func(string) string { return "" }); err != nil {
		t.Error(err)
	}
}
