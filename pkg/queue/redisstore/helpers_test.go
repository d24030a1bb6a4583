package redisstore_test

import (
	"log/slog"
	"testing"

	"github.com/waitroom/waitroom/pkg/queue/redisstore"
)

// dial returns a store with its own client (a "replica") on addrs, closed
// when the test ends.
func dial(t testing.TB, addrs []string) *redisstore.Store {
	t.Helper()
	return dialWith(t, addrs, redisstore.Config{})
}

// dialWith is dial with settings.
func dialWith(t testing.TB, addrs []string, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	st, err := redisstore.Dial(t.Context(), addrs, cfg)
	if err != nil {
		t.Fatalf("Dial(%v): %v", addrs, err)
	}
	t.Cleanup(st.Close)
	return st
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
