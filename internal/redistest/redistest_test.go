package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/waitroom/waitroom/internal/redistest"
)

func TestRestartKeepsAOFData(t *testing.T) {
	s := redistest.Start(t, redistest.WithAOF())
	if got := s.MustString("SET", "k", "v"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Do(ctx, "PING").Error(); err == nil {
		t.Fatal("PING succeeded on a killed server")
	}
	s.Restart()
	if got := s.MustString("GET", "k"); got != "v" {
		t.Fatalf("after restart GET k = %q, want v", got)
	}
	if s.CommandStats()["get"] != 1 {
		t.Fatalf("commandstats: %v", s.CommandStats())
	}
}

func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	if len(c.Addrs()) != 3 {
		t.Fatalf("addrs = %v", c.Addrs())
	}
	for _, n := range c.Nodes {
		if got := n.MustString("CLUSTER", "INFO"); len(got) == 0 {
			t.Fatal("empty CLUSTER INFO")
		}
	}
}

func TestParseCommandStats(t *testing.T) {
	got := redistest.ParseCommandStats("# Commandstats\r\ncmdstat_zadd:calls=3,usec=10,usec_per_call=3.33\r\ncmdstat_evalsha:calls=12,usec=1\r\n")
	if got["zadd"] != 3 || got["evalsha"] != 12 || len(got) != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestMustStringInteger(t *testing.T) {
	s := redistest.Start(t)
	if got := s.MustString("INCR", "n"); got != "1" {
		t.Fatalf("INCR = %q, want 1", got)
	}
}
