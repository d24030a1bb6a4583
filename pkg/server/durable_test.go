package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	waitroomv1 "github.com/waitroom/waitroom/gen/waitroom/v1"
	"github.com/waitroom/waitroom/pkg/server"
	"github.com/waitroom/waitroom/pkg/server/servertest"
)

// TestDiskStoreKeepsEveryPlaceAcrossRestart: on the disk store, sessions,
// places, ended sessions and event settings read the same after a restart,
// and a rejoin returns the same session. (diskstore's own tests check the
// whole state, change numbers included.)
func TestDiskStoreKeepsEveryPlaceAcrossRestart(t *testing.T) {
	cfg := server.Config{Store: server.StoreDisk, DataDir: t.TempDir()}
	cfg.Queue.ProcessInterval = time.Hour // nobody is admitted meanwhile
	ts := servertest.Start(t, cfg)
	c := ts.Client()
	var ids []string
	for _, u := range []string{"a", "b", "c", "d"} {
		ids = append(ids, join(t, c, u, "durable").GetSessionId())
	}
	if _, err := c.LeaveQueue(context.Background(), connect.NewRequest(&waitroomv1.LeaveQueueRequest{SessionId: ids[1]})); err != nil {
		t.Fatal(err)
	}
	ts.Stop()

	ts = servertest.Start(t, cfg)
	c = ts.Client()
	if got := status(t, c, ids[1]).GetStatus(); got != waitroomv1.SessionStatus_SESSION_STATUS_LEFT {
		t.Fatalf("the session that left reads %v after a restart", got)
	}
	for i, id := range []string{ids[0], ids[2], ids[3]} {
		if m := status(t, c, id); m.GetPosition() != int32(i+1) || m.GetQueueLength() != 3 {
			t.Fatalf("session %d after a restart: %v, want position %d of 3", i, m, i+1)
		}
	}
	if again := join(t, c, "c", "durable"); again.GetSessionId() != ids[2] || again.Created {
		t.Fatalf("a rejoin after a restart: %v, want session %s, not created", again, ids[2])
	}
	if e := join(t, c, "e", "durable"); e.GetPosition() != 4 || e.GetQueueLength() != 4 {
		t.Fatalf("a new join after a restart: %v, want position 4 of 4", e)
	}
}

// TestDiskStoreKeepsItsSigningKey: with no signing key configured, the disk
// store keeps the one the server generates, so a checkout token handed out
// before a restart still completes after it.
func TestDiskStoreKeepsItsSigningKey(t *testing.T) {
	cfg := server.Config{Store: server.StoreDisk, DataDir: t.TempDir()}
	cfg.Queue.ProcessInterval = time.Hour
	ts := servertest.Start(t, cfg)
	id := join(t, ts.Client(), "a", "kept-key").GetSessionId()
	process(t, ts)
	tok := status(t, ts.Client(), id).GetCheckoutToken()
	if tok == "" {
		t.Fatal("no checkout token on admission")
	}
	ts.Stop()

	ts = servertest.Start(t, cfg)
	_, err := ts.Client().CompleteCheckout(context.Background(), connect.NewRequest(&waitroomv1.CompleteCheckoutRequest{CheckoutToken: tok}))
	if err != nil {
		t.Fatalf("a checkout token from before the restart: %v", err)
	}
	if got := status(t, ts.Client(), id).GetStatus(); got != waitroomv1.SessionStatus_SESSION_STATUS_COMPLETED {
		t.Fatalf("after completing with the old token the session reads %v", got)
	}
}

// TestDiskStoreIsTheDefault: with no store named, the server keeps its data
// in DataDir and says where; a second server on that directory is refused
// with a message naming the setting.
func TestDiskStoreIsTheDefault(t *testing.T) {
	dir := t.TempDir()
	var logs syncBuffer
	cfg := server.Config{ListenAddr: "127.0.0.1:0", MetricsAddr: server.MetricsOff, DataDir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	srv, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()

	_, err = server.New(t.Context(), server.Config{ListenAddr: "127.0.0.1:0", MetricsAddr: server.MetricsOff, DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "WAITROOM_DATA_DIR") || !strings.Contains(err.Error(), "in use by another waitroom process") {
		t.Fatalf("a second server on the same directory: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "Data directory") || !strings.Contains(l, dir) {
		t.Fatalf("start-up did not log the data directory:\n%s", l)
	}
}

// TestMemoryStoreSaysNothingSurvives: WAITROOM_STORE=memory warns at start.
func TestMemoryStoreSaysNothingSurvives(t *testing.T) {
	var logs syncBuffer
	servertest.Start(t, server.Config{Store: server.StoreMemory, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "lost when the process stops") {
		t.Fatalf("no warning that memory keeps nothing:\n%s", l)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestStoreSettingsFromEnv(t *testing.T) {
	env := map[string]string{"WAITROOM_STORE": "memory", "WAITROOM_DATA_DIR": "/var/lib/waitroom"}
	cfg, err := server.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.Store != server.StoreMemory || cfg.DataDir != "/var/lib/waitroom" {
		t.Fatalf("ConfigFromEnv = %q, %q, %v", cfg.Store, cfg.DataDir, err)
	}
	env["WAITROOM_STORE"] = "redis"
	if _, err := server.ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.HasPrefix(err.Error(), "WAITROOM_STORE=") {
		t.Fatalf("WAITROOM_STORE=redis: %v", err)
	}
}
