package kafka

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimitWarnings(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log := LimitWarnings(slog.New(slog.NewTextHandler(&buf, nil)))
	log.Handler().(*warnLimiter).now = func() time.Time { return now }
	lines := func() []string {
		defer buf.Reset()
		return strings.Split(strings.TrimSpace(buf.String()), "\n")
	}

	for range 1000 {
		log.Warn("fetch failed", "error", "refused")
		log.With("component", "relay").Warn("produce failed")
		log.Info("record handled")
	}
	got := lines()
	warnings := 0
	for _, l := range got {
		if strings.Contains(l, "level=WARN") {
			warnings++
		}
	}
	if warnings != 2 || len(got) != 1002 {
		t.Fatalf("%d warnings, %d lines in all; want 2 and 1002", warnings, len(got))
	}

	now = now.Add(warnEvery)
	log.Warn("fetch failed", "error", "refused")
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "suppressed=999") {
		t.Fatalf("after a second: %q", got)
	}

	// Distinct messages share warnBurst a second.
	now = now.Add(warnEvery)
	for i := range 10 {
		log.Error("broken " + string(rune('a'+i)))
	}
	if got := lines(); len(got) != warnBurst {
		t.Fatalf("%d distinct warnings written in one second, want %d", len(got), warnBurst)
	}
	if LimitWarnings(log) != log {
		t.Error("limiting a limited logger again wraps it twice")
	}
}
